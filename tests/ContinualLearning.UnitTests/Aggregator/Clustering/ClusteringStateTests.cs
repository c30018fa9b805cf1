using ContinualLearning.Aggregator.Clustering;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

public sealed class ClusteringStateTests
{
    private static float[][] TwoGroups(int perGroup) =>
        [.. Enumerable.Range(0, 2 * perGroup).Select(d => d < perGroup ? new[] { 3f, 0f } : new[] { -3f, 0f })];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_restored_clustering_decides_the_next_round_as_the_original(int seed)
    {
        var fleet = new SyntheticFleet(TwoGroups(4), seed);
        for (var round = 0; round < 6; round++) fleet.Round(round);
        var state = fleet.Clustering.Export();
        Assert.Contains(state.Devices, d => d.Reference is null || d.Reference > 0);

        var restored = ConceptClustering.Restore(state, SyntheticFleet.ToyScale);
        Assert.Equal(state, restored.Export(), StateComparer.Instance);

        // The same reports into both: the same decision and the same state after it.
        var reports = Enumerable.Range(0, 8).Select(d => new LossReport(SyntheticFleet.Id(d), fleet.Clustering.ClusterOf(SyntheticFleet.Id(d)),
            fleet.Clustering.Clusters.ToDictionary(c => c, c => d < 4 == (c == fleet.Clustering.ClusterOf(SyntheticFleet.Id(0))) ? 0.1 : 2.0), 0.5, 100)).ToArray();
        var a = fleet.Clustering.Decide(6, reports);
        var b = restored.Decide(6, reports);
        Assert.Equal(a.Assignments, b.Assignments);
        Assert.Equal(a.Created, b.Created);
        Assert.Equal(a.Merged, b.Merged);
        Assert.Equal(a.Retired, b.Retired);
        Assert.Equal(fleet.Clustering.Export(), restored.Export(), StateComparer.Instance);
    }

    [Fact]
    public void A_state_without_the_initial_cluster_or_with_a_stale_next_id_is_refused()
    {
        Assert.Throws<ArgumentException>(() => ConceptClustering.Restore(new ClusteringState(3, [new ClusterStateEntry(2, 0, 0)], [])));
        Assert.Throws<ArgumentException>(() => ConceptClustering.Restore(new ClusteringState(2, [new ClusterStateEntry(0, 0, 0), new ClusterStateEntry(2, 0, 0)], [])));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void With_the_initial_cluster_kept_a_spurious_cluster_merges_back_into_cluster_0(int seed)
    {
        var options = SyntheticFleet.ToyScale with { KeepInitialCluster = true };
        var fleet = new SyntheticFleet([.. Enumerable.Range(0, 10).Select(_ => new[] { 2f, -1f })], seed, options);
        var merges = new List<ClusterMerge>();
        for (var round = 0; round < 30; round++) merges.AddRange(fleet.Round(round).Merged);
        var only = Assert.Single(fleet.Membership());
        Assert.Equal(0, only.Key);
        Assert.All(merges, m => Assert.NotEqual(0, m.Absorbed));
        Assert.Contains(0, fleet.Clustering.Clusters);
    }

    private sealed class StateComparer : IEqualityComparer<ClusteringState>
    {
        public static StateComparer Instance { get; } = new();

        public bool Equals(ClusteringState? x, ClusteringState? y) =>
            x is not null && y is not null && x.NextId == y.NextId && x.Clusters.SequenceEqual(y.Clusters) && x.Devices.SequenceEqual(y.Devices);

        public int GetHashCode(ClusteringState obj) => obj.NextId;
    }
}
