// The shared test kit (tests/ContinualLearning.TestKit) in every file: fixtures, the device and aggregator kits,
// the rule for absent dependencies, and WaitUntil, the one way a test polls for background work.
global using ContinualLearning.TestKit;
global using static ContinualLearning.TestKit.Polling;

namespace ContinualLearning.UnitTests;
