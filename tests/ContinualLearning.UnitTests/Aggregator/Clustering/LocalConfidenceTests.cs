using ContinualLearning.Aggregator.Clustering;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

/// <summary>
/// The local-advantage test weighs the device's advantage against the standard error of the paired loss difference it
/// reports: unfit when best cluster loss − own loss &gt; LocalMargin + LocalConfidence · SE(best cluster).
/// With the defaults (margin 0.03, confidence 1) an advantage of 0.08 needs an SE below 0.05.
/// </summary>
public sealed class LocalConfidenceTests
{
    /// <summary>One standard error (the product's default, 0, ignores them; docs/federated.md says why).</summary>
    private static readonly ClusteringOptions Confident = new() { LocalConfidence = 1 };

    [Fact]
    public void An_advantage_within_the_noise_of_the_samples_does_not_split_the_device_off()
    {
        var decision = new ConceptClustering(Confident).Decide(0, [Report("a", 1.0, local: 0.92, se: 0.06)]);
        Assert.Empty(decision.Created);
        Assert.Equal(AssignmentKind.Stayed, Assert.Single(decision.Assignments).Kind);
    }

    [Fact]
    public void The_same_advantage_with_a_small_standard_error_makes_the_device_unfit()
    {
        var decision = new ConceptClustering(Confident).Decide(0, [Report("a", 1.0, local: 0.92, se: 0.01)]);
        Assert.Equal("a", Assert.Single(decision.Created).Creator);
        Assert.Equal(AssignmentKind.Created, Assert.Single(decision.Assignments).Kind);
    }

    [Fact]
    public void Without_a_standard_error_the_margin_alone_decides_as_before()
    {
        Assert.Single(new ConceptClustering(Confident).Decide(0, [Report("a", 1.0, local: 0.92, se: null)]).Created);
        Assert.Empty(new ConceptClustering(Confident).Decide(0, [Report("a", 1.0, local: 0.98, se: null)]).Created);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-0.05)]
    public void An_unusable_standard_error_counts_as_none(double se)
    {
        Assert.Single(new ConceptClustering(Confident).Decide(0, [Report("a", 1.0, local: 0.92, se: se)]).Created);
    }

    [Fact]
    public void Only_the_standard_error_of_the_cluster_it_is_judged_against_counts()
    {
        // Cluster 0 is the device's best (and only) cluster; a large SE reported for some other id changes nothing.
        var report = new LossReport("a", 0, new Dictionary<int, double> { [0] = 1.0 }, 0.92, 100, new Dictionary<int, double> { [7] = 0.5 });
        Assert.Single(new ConceptClustering(Confident).Decide(0, [report]).Created);
    }

    [Fact]
    public void The_default_confidence_is_zero_so_the_margin_alone_decides()
    {
        Assert.Equal(0, new ClusteringOptions().LocalConfidence);
        Assert.Single(new ConceptClustering().Decide(0, [Report("a", 1.0, local: 0.92, se: 0.06)]).Created);
    }

    [Fact]
    public void Confidence_zero_ignores_the_standard_errors()
    {
        var clustering = new ConceptClustering(new ClusteringOptions { LocalConfidence = 0 });
        Assert.Single(clustering.Decide(0, [Report("a", 1.0, local: 0.92, se: 0.06)]).Created);
    }

    [Fact]
    public void The_threshold_is_margin_plus_confidence_times_the_standard_error()
    {
        // Margin 0.05 + 1.5 × 0.04 = 0.11: an advantage of 0.10 is within it, 0.12 beyond.
        var options = new ClusteringOptions { LocalMargin = 0.05, LocalConfidence = 1.5 };
        Assert.Empty(new ConceptClustering(options).Decide(0, [Report("a", 1.0, local: 0.90, se: 0.04)]).Created);
        Assert.Single(new ConceptClustering(options).Decide(0, [Report("a", 1.0, local: 0.88, se: 0.04)]).Created);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void An_invalid_confidence_names_the_setting(double value)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ConceptClustering(new ClusteringOptions { LocalConfidence = value }));
        Assert.Contains("LocalConfidence", e.Message, StringComparison.Ordinal);
    }

    private static LossReport Report(string device, double loss, double local, double? se) =>
        new(device, 0, new Dictionary<int, double> { [0] = loss }, local, 100, se is { } s ? new Dictionary<int, double> { [0] = s } : null);
}
