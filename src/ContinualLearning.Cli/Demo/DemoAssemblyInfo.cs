using System.Runtime.CompilerServices;

// The demo engine is internal to `cl`; its tests drive it programmatically (embedded broker and Mosquitto).
[assembly: InternalsVisibleTo("ContinualLearning.UnitTests")]
[assembly: InternalsVisibleTo("ContinualLearning.Tests")]
