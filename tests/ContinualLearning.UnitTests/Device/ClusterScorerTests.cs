using ContinualLearning.Deltas;
using ContinualLearning.Device.Agent;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The report the scorer builds from per-sample losses on the same samples (the heads' scoring is ClusteringDeviceTests').</summary>
public sealed class ClusterScorerTests
{
    [Fact]
    public void Each_cluster_reports_the_standard_error_of_its_paired_difference_with_the_champion()
    {
        var clusters = new Dictionary<int, double[]>
        {
            [0] = [0.5, 0.7, 0.9, 1.1], // − champion = 0.1, 0.2, 0.3, 0.4
            [2] = [0.6, 0.5, 0.6, 0.9], // − champion = 0.2, 0, 0, 0.2
        };
        double[] champion = [0.4, 0.5, 0.6, 0.7];

        var report = ClusterScorer.Report(2, clusters, champion, 4);

        Assert.Equal(0.8, report.Losses[0], 12);
        Assert.Equal(0.65, report.Losses[2], 12);
        Assert.Equal(0.55, report.LocalLoss!.Value, 12);
        // By hand: mean 0.25, squared deviations 0.0225 + 0.0025 + 0.0025 + 0.0225 = 0.05; SE = √(0.05 / 3 / 4).
        Assert.Equal(0.0645497224, report.StandardErrors![0], 9);
        // Mean 0.1, squared deviations 4 × 0.01 = 0.04; SE = √(0.04 / 3 / 4).
        Assert.Equal(0.0577350269, report.StandardErrors[2], 9);

        // They travel as cluster.se.{id} and read back.
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        report.WriteTo(metrics);
        Assert.Equal(report.StandardErrors[0], metrics["cluster.se.0"]);
        var read = ClusterReport.TryRead(metrics, out var error);
        Assert.Null(error);
        Assert.Equal(report.StandardErrors[2], read!.StandardErrors![2]);
    }

    [Fact]
    public void Without_a_champion_there_is_no_local_loss_and_no_standard_error()
    {
        var report = ClusterScorer.Report(0, new Dictionary<int, double[]> { [0] = [0.5, 0.7] }, null, 2);
        Assert.Null(report.LocalLoss);
        Assert.Null(report.StandardErrors);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        report.WriteTo(metrics);
        Assert.DoesNotContain(metrics.Keys, k => k.StartsWith(ClusterReport.StandardErrorPrefix, StringComparison.Ordinal));
    }
}
