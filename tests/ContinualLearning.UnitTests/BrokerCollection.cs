namespace ContinualLearning.UnitTests;

/// <summary>
/// The tests that share one embedded broker (<see cref="EmbeddedBrokerFixture"/>, started once). Declared here
/// because xunit looks for collection definitions only in the test assembly.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrokerCollection : ICollectionFixture<EmbeddedBrokerFixture>
{
    public const string Name = "embedded broker";
}
