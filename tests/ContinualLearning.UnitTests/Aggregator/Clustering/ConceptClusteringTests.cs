using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

public sealed class ConceptClusteringTests
{
    private static float[][] TwoGroups(int perGroup) =>
        [.. Enumerable.Range(0, 2 * perGroup).Select(d => d < perGroup ? new[] { 3f, 0f } : new[] { -3f, 0f })];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Two_well_separated_groups_end_in_two_clusters(int seed)
    {
        var fleet = new SyntheticFleet(TwoGroups(5), seed);
        for (var round = 0; round < 20; round++) fleet.Round(round);

        var membership = fleet.Membership();
        Assert.Equal(2, membership.Count);
        foreach (var (cluster, devices) in membership)
        {
            var groups = devices.Select(id => fleet.Concepts[int.Parse(id[1..], System.Globalization.CultureInfo.InvariantCulture)][0]).Distinct().ToArray();
            Assert.Single(groups);
            Assert.Equal(groups[0], fleet.Models[cluster][0], 0.5f);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void One_concept_ends_in_one_cluster(int seed)
    {
        // A lucky local model early on may start a cluster; the merge rule must fold it back once both models converge.
        var fleet = new SyntheticFleet([.. Enumerable.Range(0, 10).Select(_ => new[] { 2f, -1f })], seed);
        for (var round = 0; round < 30; round++) fleet.Round(round);
        var only = Assert.Single(fleet.Membership());
        Assert.Equal(10, only.Value.Length);
        Assert.Equal(2f, fleet.Models[only.Key][0], 0.2f);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_drifting_device_moves_to_the_cluster_of_its_new_concept(int seed)
    {
        var fleet = new SyntheticFleet(TwoGroups(5), seed);
        for (var round = 0; round < 20; round++) fleet.Round(round);
        var minusCluster = fleet.Clustering.ClusterOf(SyntheticFleet.Id(9));
        Assert.NotEqual(minusCluster, fleet.Clustering.ClusterOf(SyntheticFleet.Id(0)));

        fleet.Concepts[0] = [-3f, 0f];
        var moved = false;
        for (var round = 20; round < 23; round++)
            moved |= fleet.Round(round).Assignments.Any(a => a.DeviceId == SyntheticFleet.Id(0) && a.Kind == AssignmentKind.Moved && a.To == minusCluster);

        Assert.True(moved);
        Assert.Equal(minusCluster, fleet.Clustering.ClusterOf(SyntheticFleet.Id(0)));
        Assert.Equal(2, fleet.Membership().Count);
    }

    [Fact]
    public void A_device_whose_concept_is_new_to_the_fleet_creates_a_cluster()
    {
        var fleet = new SyntheticFleet(TwoGroups(5), 4);
        for (var round = 0; round < 20; round++) fleet.Round(round);
        var before = fleet.Clustering.Clusters.Count;

        fleet.Concepts[0] = [0f, 6f];
        var created = Enumerable.Range(20, 3).SelectMany(r => fleet.Round(r).Created).ToArray();

        Assert.Contains(created, c => c.Creator == SyntheticFleet.Id(0));
        Assert.Equal(before + 1, fleet.Clustering.Clusters.Count);
        Assert.Equal(6f, fleet.Models[fleet.Clustering.ClusterOf(SyntheticFleet.Id(0))][1], 2f);
    }

    [Fact]
    public void Two_clusters_that_serve_each_others_devices_equally_merge_into_the_larger()
    {
        var clustering = new ConceptClustering(new ClusteringOptions { GraceRounds = 2 });
        // Round 0: device c's own model beats the only cluster by far, so it starts cluster 1.
        var decision = clustering.Decide(0, [Report("a", 0, 1.0), Report("b", 0, 1.0), Report("c", 0, 1.0, local: 0.2)]);
        var created = Assert.Single(decision.Created);
        Assert.Equal(new ClusterCreation(1, 0, "c"), created);
        Assert.Equal(1, clustering.ClusterOf("c"));

        // Rounds 1–2: both models serve everyone equally. No merge while cluster 1 is in its grace period.
        Assert.Empty(clustering.Decide(1, [Report("a", 0, 0.5, 0.5), Report("b", 0, 0.5, 0.5), Report("c", 1, 0.5, 0.5)]).Merged);
        var merge = clustering.Decide(2, [Report("a", 0, 0.5, 0.5), Report("b", 0, 0.5, 0.5), Report("c", 1, 0.5, 0.5)]);

        Assert.Equal(new ClusterMerge(0, 1, 0.0), Assert.Single(merge.Merged));
        Assert.Equal([0], clustering.Clusters);
        Assert.Equal(0, clustering.ClusterOf("c"));
        Assert.Contains(merge.Assignments, a => a.DeviceId == "c" && a.Kind == AssignmentKind.Merged && a.To == 0);
    }

    [Fact]
    public void A_cluster_the_caller_calls_untrained_is_not_merged_past_its_grace_rounds_until_it_is_trained()
    {
        var clustering = new ConceptClustering(new ClusteringOptions { GraceRounds = 2 });
        Assert.Single(clustering.Decide(0, [Report("a", 0, 1.0), Report("b", 0, 1.0), Report("c", 0, 1.0, local: 0.2)]).Created);
        var equal = new[] { Report("a", 0, 0.5, 0.5), Report("b", 0, 0.5, 0.5), Report("c", 1, 0.5, 0.5) };
        Assert.Empty(clustering.Decide(1, equal, new HashSet<int> { 1 }).Merged);

        // Past the grace rounds, equal on each other's devices: merged only once the caller no longer calls it untrained.
        Assert.Empty(clustering.Decide(2, equal, new HashSet<int> { 1 }).Merged);
        Assert.Empty(clustering.Decide(3, equal, new HashSet<int> { 1 }).Merged);
        Assert.Equal([0, 1], clustering.Clusters.Order());
        Assert.Equal(new ClusterMerge(0, 1, 0.0), Assert.Single(clustering.Decide(4, equal, new HashSet<int>()).Merged));
    }

    [Fact]
    public void Clusters_whose_models_differ_on_each_others_devices_do_not_merge()
    {
        var clustering = new ConceptClustering(new ClusteringOptions { GraceRounds = 0 });
        clustering.Decide(0, [Report("a", 0, 1.0), Report("c", 0, 1.0, local: 0.2)]);
        var decision = clustering.Decide(1, [Report("a", 0, 0.3, 0.9), Report("c", 1, 0.9, 0.3)]);
        Assert.Empty(decision.Merged);
        Assert.Equal([0, 1], clustering.Clusters);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_cap_on_clusters_holds_when_every_device_is_its_own_concept(int seed)
    {
        var concepts = Enumerable.Range(0, 8).Select(d => new[] { 5f * MathF.Cos(d * MathF.PI / 4), 5f * MathF.Sin(d * MathF.PI / 4) }).ToArray();
        var fleet = new SyntheticFleet(concepts, seed, SyntheticFleet.ToyScale with { MaxClusters = 3 });
        var createdAny = false;
        for (var round = 0; round < 40; round++)
        {
            createdAny |= fleet.Round(round).Created.Count > 0;
            Assert.InRange(fleet.Clustering.Clusters.Count, 1, 3);
            Assert.Equal(fleet.Clustering.Clusters, fleet.Models.Clusters);
        }
        Assert.True(createdAny);
    }

    [Fact]
    public void Too_few_samples_never_create_a_cluster()
    {
        var fleet = new SyntheticFleet(TwoGroups(1), 1, samples: 10);
        for (var round = 0; round < 10; round++) Assert.Empty(fleet.Round(round).Created);
        Assert.Single(fleet.Clustering.Clusters);
    }

    [Fact]
    public void A_single_device_follows_its_own_drift()
    {
        var fleet = new SyntheticFleet([[3f, 0f]], 5);
        for (var round = 0; round < 10; round++) fleet.Round(round);
        fleet.Concepts[0] = [-3f, 0f];
        for (var round = 10; round < 20; round++) fleet.Round(round);
        Assert.Equal(-3f, fleet.Models[fleet.Clustering.ClusterOf(SyntheticFleet.Id(0))][0], 0.5f);
        Assert.InRange(fleet.Clustering.Clusters.Count, 1, 2);
    }

    [Fact]
    public void The_same_seed_gives_the_same_decisions_and_models()
    {
        static (string Decisions, float[][] Models) Run(int seed)
        {
            var fleet = new SyntheticFleet(TwoGroups(4), seed);
            var log = new System.Text.StringBuilder();
            for (var round = 0; round < 15; round++)
            {
                var d = fleet.Round(round);
                log.Append(string.Join(',', d.Assignments.Select(a => $"{a.DeviceId}:{a.To}:{a.Kind}")))
                    .Append(string.Join(',', d.Created)).Append(string.Join(',', d.Merged)).Append(string.Join(',', d.Retired)).Append('\n');
            }
            return (log.ToString(), [.. fleet.Models.Clusters.Select(c => fleet.Models[c])]);
        }

        var a = Run(7);
        var b = Run(7);
        Assert.Equal(a.Decisions, b.Decisions);
        Assert.Equal(a.Models, b.Models);
        Assert.Contains("Created", a.Decisions, StringComparison.Ordinal);
    }

    [Fact]
    public void Cluster_models_aggregate_only_the_deltas_of_devices_that_stay()
    {
        var models = new ClusterModels(0, [1f, 1f]);
        var decision = new ClusteringDecision(
            [new("a", 0, 0, AssignmentKind.Stayed), new("b", 0, 0, AssignmentKind.Stayed), new("m", 0, 3, AssignmentKind.Moved), new("n", 0, 1, AssignmentKind.Created)],
            [new ClusterCreation(1, 0, "n")], [], []);
        var deltas = new Dictionary<string, WeightedUpdate>
        {
            ["a"] = new([1f, 0f], 1), ["b"] = new([3f, 0f], 1), ["m"] = new([100f, 100f], 1), ["n"] = new([0f, -1f], 1),
        };
        models.Apply(decision, deltas);
        Assert.Equal([3f, 1f], models[0]);
        Assert.Equal([1f, 0f], models[1]);
    }

    [Fact]
    public void Invalid_options_name_the_setting()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ConceptClustering(new ClusteringOptions { MaxClusters = 0 }));
        Assert.Contains("MaxClusters", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new ConceptClustering(new ClusteringOptions { DriftMargin = double.NaN }));
        Assert.Contains("DriftMargin", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_device_reporting_twice_in_a_round_is_refused()
    {
        var clustering = new ConceptClustering();
        var e = Assert.Throws<ArgumentException>(() => clustering.Decide(0, [Report("a", 0, 1.0), Report("a", 0, 1.0)]));
        Assert.Contains("twice", e.Message, StringComparison.Ordinal);
    }

    private static LossReport Report(string device, int cluster, double loss0, double? loss1 = null, double? local = null)
    {
        var losses = new Dictionary<int, double> { [0] = loss0 };
        if (loss1 is { } l) losses[1] = l;
        return new LossReport(device, cluster, losses, local, 100);
    }
}
