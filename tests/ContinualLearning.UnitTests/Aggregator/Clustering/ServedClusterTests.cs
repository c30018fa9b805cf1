using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

/// <summary>Which cluster's canary a device's telemetry counts for: the cluster whose model it says it serves.</summary>
public sealed class ServedClusterTests
{
    private static Telemetry With(double? cluster) => new()
    {
        DeviceId = "d1",
        Extra = cluster is { } c ? new Dictionary<string, double> { ["cluster"] = c, ["queueDepth"] = 3 } : new Dictionary<string, double> { ["queueDepth"] = 3 },
    };

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(2.0, 2)]
    [InlineData(9999.0, 9999)]
    public void The_served_cluster_is_read_from_the_telemetry(double sent, int expected) =>
        Assert.Equal(expected, ClusterFleet.ServedCluster(With(sent)));

    [Theory]
    [InlineData(null)]
    [InlineData(-1.0)]
    [InlineData(1.5)]
    [InlineData(10000.0)]
    [InlineData(double.NaN)]
    public void Absent_or_malformed_leaves_the_assignment_to_decide(double? sent) =>
        Assert.Null(ClusterFleet.ServedCluster(With(sent)));

    [Fact]
    public void Telemetry_without_extra_has_no_served_cluster() =>
        Assert.Null(ClusterFleet.ServedCluster(new Telemetry { DeviceId = "d1" }));
}
