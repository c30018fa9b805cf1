using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>The clusters of concept-aware aggregation and the clustering state (docs/federated.md, "Concept-aware aggregation").</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task Clusters_are_recorded_with_their_parent_retired_once_and_seen_by_a_second_host()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        first.Clusters.Add(new ClusterRecord("m", 0, "m", null, null, null, 0, T0));
        first.Clusters.Add(new ClusterRecord("m", 1, "m.c1", "m", "1.3.0", "pi-07", 4, T0.AddMinutes(1)));
        first.Clusters.Add(new ClusterRecord("other", 1, "other.c1", "other", "1.0.0", "pi-01", 1, T0));

        var c1 = Assert.Single(second.Clusters.List("m"), c => c.Cluster == 1);
        Assert.Equal(new ClusterRecord("m", 1, "m.c1", "m", "1.3.0", "pi-07", 4, T0.AddMinutes(1)), c1);
        Assert.True(c1.Live);
        Assert.Equal([0, 1], second.Clusters.Live("m").Select(c => c.Cluster));
        Assert.Equal("other", second.Clusters.ByModel("other.c1")!.BaseModel);
        Assert.Null(second.Clusters.ByModel("m.c9"));
        // The same id twice, or a model name taken: refused.
        Assert.ThrowsAny<Exception>(() => first.Clusters.Add(new ClusterRecord("m", 1, "m.c1x", null, null, null, 5, T0)));

        Assert.True(second.Clusters.Retire("m", 1, T0.AddMinutes(2), mergedInto: 0));
        Assert.False(first.Clusters.Retire("m", 1, T0.AddMinutes(3), mergedInto: null));
        var retired = first.Clusters.ByModel("m.c1")!;
        Assert.Equal((T0.AddMinutes(2), (int?)0, false), (retired.Retired, retired.MergedInto, retired.Live));
        Assert.Equal([0], first.Clusters.Live("m").Select(c => c.Cluster));
        first.Clusters.Add(new ClusterRecord("m", 2, "m.c2", "m", "1.4.0", "pi-09", 6, T0));
        Assert.True(first.Clusters.Retire("m", 2, T0, mergedInto: null));
        Assert.Null(first.Clusters.ByModel("m.c2")!.MergedInto);
    }

    [Fact]
    public async Task The_clustering_state_round_trips_is_replaced_and_rolls_back_with_its_transaction()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        Assert.Null(first.Clusters.GetState("m"));
        var state = new ClusteringState(3, [new ClusterStateEntry(0, 0, 7), new ClusterStateEntry(2, 4, 7)],
            [new DeviceStateEntry("pi-01", 0, 0.125, 0), new DeviceStateEntry("pi-02", 2, null, 9)]);
        var counted = new Dictionary<string, string>(StringComparer.Ordinal) { ["pi-01"] = "d-1", ["pi-02"] = "d-2" };
        first.Clusters.PutState(new ClusteringRecord("m", state, 7, 5, null, counted), T0);

        var read = second.Clusters.GetState("m")!;
        Assert.Equal((3, 7, 5L, (string?)null), (read.State.NextId, read.Round, read.DirectorySequence, read.DirectoryJson));
        Assert.Equal(state.Clusters, read.State.Clusters);
        Assert.Equal(state.Devices, read.State.Devices);
        Assert.Equal(counted, read.CountedReports);

        second.Clusters.PutState(new ClusteringRecord("m", state with { NextId = 4 }, 8, 6, "{\"v\":1}", counted), T0);
        Assert.Equal((4, 8, 6L, "{\"v\":1}"), (first.Clusters.GetState("m")!.State.NextId, first.Clusters.GetState("m")!.Round,
            first.Clusters.GetState("m")!.DirectorySequence, first.Clusters.GetState("m")!.DirectoryJson));
        Assert.Throws<InvalidOperationException>(() => first.InTransaction(() =>
        {
            first.Clusters.PutState(new ClusteringRecord("m", state, 9, 7, null, counted), T0);
            first.Clusters.Add(new ClusterRecord("m", 3, "m.c3", "m", "1.0.0", "pi-03", 9, T0));
            throw new InvalidOperationException("the clustering step failed");
        }));
        Assert.Equal(8, second.Clusters.GetState("m")!.Round);
        Assert.Null(second.Clusters.ByModel("m.c3"));
        Assert.Null(second.Clusters.GetState("other"));
    }
}
