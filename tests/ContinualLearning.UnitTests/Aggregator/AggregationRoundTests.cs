using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The aggregation round as a pure function: no registry, no broker, no clock.</summary>
public sealed class AggregationRoundTests
{
    private static readonly NamedTensor[] Global = AggregatorTestKit.Weights(AggregatorTestKit.SmallHead, 1);
    private static readonly ValidationOptions Validation = new() { MaxStaleness = 2, MaxNorm = null };
    // MinDevices 1: these tests look at the arithmetic, some with one device; the device floor has its own tests.
    private static readonly AggregationOptions FedAvg = new() { Strategy = StrategyKind.FedAvg, StalenessAlpha = 1, ServerLearningRate = 1, MinDevices = 1 };

    private static BufferedDelta Buffered(string device, float value, long samples = 10, int? staleness = 0, bool rolledBack = false, string baseVersion = "1.0.0")
    {
        var dense = AggregatorTestKit.SmallHead.Parameters()
            .Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(value, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray()))
            .ToArray();
        var id = Guid.NewGuid();
        var payload = AggregatorTestKit.Encode(device, id, baseVersion, samples, dense);
        return new BufferedDelta(new PendingDelta(id.ToString("D"), device, baseVersion, samples, DateTimeOffset.UnixEpoch, payload), staleness, rolledBack);
    }

    private static float[] Flat(IReadOnlyList<NamedTensor> weights) => weights.SelectMany(t => t.Data).ToArray();

    [Fact]
    public void Unusable_bases_are_dropped_with_their_reason_and_the_rest_is_averaged_by_samples_and_staleness()
    {
        var fresh = Buffered("a", 0.03f, samples: 10, staleness: 0);
        var old = Buffered("b", 0.09f, samples: 10, staleness: 1); // weight 10 · 1/(1+1) = 5
        var unknown = Buffered("c", 5f, staleness: null, baseVersion: "9.9.9");
        var rolledBack = Buffered("d", 5f, staleness: 1, rolledBack: true);
        var stale = Buffered("e", 5f, staleness: 3);

        var round = AggregationRound.Run(Global, AggregatorTestKit.SmallHead, [fresh, unknown, old, rolledBack, stale], FedAvg, Validation);

        Assert.Equal([fresh.Delta, old.Delta], round.Used);
        Assert.Equal(
            [(unknown.Delta, RejectionReason.UnknownBaseVersion), (rolledBack.Delta, RejectionReason.RolledBackBase), (stale.Delta, RejectionReason.TooStale)],
            round.Dropped.Select(d => (d.Delta, d.Reason)));
        Assert.Contains("too-stale, staleness 3", round.Dropped[2].Message);
        // (10 · 0.03 + 5 · 0.09) / 15 = 0.05 on every weight.
        var expected = Flat(Global).Select(w => w + 0.05f).ToArray();
        Assert.Equal(expected, Flat(round.Weights!), (x, y) => Math.Abs(x - y) < 1e-6f);
        Assert.Equal(new RoundMetrics(Deltas: 2, Dropped: 3, Devices: 2, Samples: 20, MeanStaleness: 0.5, UpdateNorm: round.Metrics!.UpdateNorm), round.Metrics);
        Assert.Equal(0.05 * Math.Sqrt(expected.Length), round.Metrics.UpdateNorm, 5);
    }

    [Fact]
    public void Nothing_usable_gives_no_weights_and_every_delta_dropped()
    {
        var round = AggregationRound.Run(Global, AggregatorTestKit.SmallHead, [Buffered("a", 0.1f, staleness: null), Buffered("b", 0.1f, staleness: 9)], FedAvg, Validation);
        Assert.Null(round.Weights);
        Assert.Null(round.Metrics);
        Assert.Empty(round.Used);
        Assert.Equal([RejectionReason.UnknownBaseVersion, RejectionReason.TooStale], round.Dropped.Select(d => d.Reason));
    }

    [Fact]
    public void The_server_learning_rate_scales_the_update_and_clip_mode_bounds_each_delta_first()
    {
        var delta = Buffered("a", 1f);
        var n = Flat(Global).Length;
        var halfRate = AggregationRound.Run(Global, AggregatorTestKit.SmallHead, [delta], FedAvg with { ServerLearningRate = 0.5 }, Validation);
        Assert.Equal(Flat(Global).Select(w => w + 0.5f), Flat(halfRate.Weights!), (x, y) => Math.Abs(x - y) < 1e-6f);

        // Norm √n clipped to 1: every element becomes 1/√n.
        var clipped = AggregationRound.Run(Global, AggregatorTestKit.SmallHead, [delta], FedAvg, Validation with { MaxNorm = 1.0, NormClipMode = NormClipMode.Clip });
        Assert.Equal(1.0, clipped.Metrics!.UpdateNorm, 5);
        Assert.Equal(Flat(Global).Select(w => w + (float)(1 / Math.Sqrt(n))), Flat(clipped.Weights!), (x, y) => Math.Abs(x - y) < 1e-6f);
    }

    [Fact]
    public void The_configured_strategy_is_the_one_applied()
    {
        var deltas = new[] { Buffered("a", 0.1f), Buffered("b", 0.2f), Buffered("c", 3f) };
        var median = AggregationRound.Run(Global, AggregatorTestKit.SmallHead, deltas, FedAvg with { Strategy = StrategyKind.Median }, Validation);
        Assert.Equal(Flat(Global).Select(w => w + 0.2f), Flat(median.Weights!), (x, y) => Math.Abs(x - y) < 1e-6f);
    }

    [Fact]
    public void The_version_metrics_keep_their_keys_and_order()
    {
        var metrics = new RoundMetrics(3, 1, 2, 30, 0.5, 0.25);
        Assert.Equal("""{"deltas":3,"dropped":1,"devices":2,"samples":30,"meanStaleness":0.5,"updateNorm":0.25,"strategy":1}""", metrics.ToJson(null, StrategyKind.TrimmedMean));
        Assert.Equal(
            """{"deltas":3,"dropped":1,"devices":2,"samples":30,"meanStaleness":0.5,"updateNorm":0.25,"holdoutAccuracy":0.8,"holdoutBaseline":0.9,"strategy":0}""",
            metrics.ToJson(new HoldoutVerdict(0.8, 0.9, 0.01, 100), StrategyKind.FedAvg));
    }

    [Theory]
    [InlineData(0.80, 0.81, true)]
    [InlineData(0.80, 0.8099, true)]
    [InlineData(0.79, 0.81, false)]
    public void The_holdout_gate_refuses_a_candidate_worse_by_more_than_the_margin(double candidate, double current, bool pass)
    {
        var verdict = new HoldoutVerdict(candidate, current, 0.01, 200);
        Assert.Equal(pass, verdict.Pass);
        Assert.Equal(pass ? DecisionKind.HoldoutPass : DecisionKind.HoldoutFail, verdict.Decision);
        Assert.Contains($"\"candidate\":{candidate}", verdict.NumbersJson);
        Assert.Contains("\"samples\":200", verdict.NumbersJson);
    }

    [Fact]
    public void The_trigger_fires_on_K_deltas_or_on_the_age_of_the_oldest_once_enough_devices_sent()
    {
        var t0 = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var options = new AggregationOptions { BufferSize = 3, MinDeltas = 2, MaxWait = TimeSpan.FromMinutes(1), MinDevices = 2 };
        Assert.True(AggregationCycle.IsDue(new PendingSummary(3, 3, t0), options, t0.AddSeconds(2)));
        Assert.False(AggregationCycle.IsDue(new PendingSummary(2, 2, t0), options, t0.AddSeconds(59)));
        Assert.True(AggregationCycle.IsDue(new PendingSummary(2, 2, t0), options, t0.AddSeconds(60)));
        Assert.False(AggregationCycle.IsDue(new PendingSummary(1, 1, t0), options, t0.AddHours(1)));
        // K deltas, long waited for, but all from one device.
        Assert.False(AggregationCycle.IsDue(new PendingSummary(10, 1, t0), options, t0.AddHours(1)));
    }
}
