using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.UnitTests.Aggregator;

public sealed class StrategyPropertyTests
{
    private static readonly StrategyOptions Options = new() { TrimFraction = 0.2, ClipNorm = 1e6 };

    public static TheoryData<StrategyKind, int> Cases()
    {
        var data = new TheoryData<StrategyKind, int>();
        foreach (var kind in Enum.GetValues<StrategyKind>())
            foreach (var seed in new[] { 1, 2, 3 })
                data.Add(kind, seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Identical_deltas_aggregate_to_that_delta(StrategyKind kind, int seed)
    {
        var rng = new Random(seed);
        var delta = Vector(rng, 50, 1.0);
        var count = rng.Next(1, 12);
        var updates = Enumerable.Range(0, count).Select(_ => new WeightedUpdate((float[])delta.Clone(), rng.Next(1, 100) * rng.NextDouble() + 0.1)).ToArray();
        var result = AggregationStrategies.Aggregate(kind, updates, Options);
        for (var i = 0; i < delta.Length; i++) Assert.Equal(delta[i], result[i], 1e-6f);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Result_does_not_depend_on_the_order_of_deltas(StrategyKind kind, int seed)
    {
        var rng = new Random(seed);
        var updates = Enumerable.Range(0, 9).Select(_ => new WeightedUpdate(Vector(rng, 40, 1.0), rng.Next(1, 50))).ToArray();
        var shuffled = updates.OrderBy(_ => rng.Next()).ToArray();
        Assert.NotEqual(updates.Select(u => u.Weight), shuffled.Select(u => u.Weight)); // the shuffle did something
        var a = AggregationStrategies.Aggregate(kind, updates, Options with { ClipNorm = 2 });
        var b = AggregationStrategies.Aggregate(kind, shuffled, Options with { ClipNorm = 2 });
        for (var i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-5f);
    }

    [Theory]
    [InlineData(StrategyKind.Median, true)]
    [InlineData(StrategyKind.TrimmedMean, true)]
    [InlineData(StrategyKind.FedAvg, false)]
    public void Robust_strategies_resist_20_percent_sign_flipped_and_scaled_deltas(StrategyKind kind, bool robust)
    {
        var rng = new Random(7);
        var truth = Vector(rng, 100, 1.0);
        var updates = new List<WeightedUpdate>();
        for (var d = 0; d < 20; d++)
        {
            var noisy = truth.Select(v => v + (float)((rng.NextDouble() - 0.5) * 0.1)).ToArray();
            // Devices 0-3 (20%) are attackers: half flip the sign ×10, half scale by ×50.
            if (d < 2) noisy = noisy.Select(v => -10 * v).ToArray();
            else if (d < 4) noisy = noisy.Select(v => 50 * v).ToArray();
            updates.Add(new WeightedUpdate(noisy, 10));
        }
        var result = AggregationStrategies.Aggregate(kind, updates, Options);
        var error = Distance(result, truth) / AggregationMath.L2Norm(truth);
        if (robust) Assert.True(error < 0.1, $"{kind}: relative error {error:F3} with 20% bad deltas");
        else Assert.True(error > 1, $"FedAvg should be pulled away by the attackers; relative error {error:F3}");
    }

    [Fact]
    public void Norm_clipping_bounds_each_delta_before_averaging()
    {
        var small = new WeightedUpdate([0.3f, 0.4f], 1); // norm 0.5
        var huge = new WeightedUpdate([300f, 400f], 1); // norm 500 → clipped to 1: (0.6, 0.8)
        var result = new NormClipStrategy(1.0).Aggregate([small, huge]);
        Assert.Equal(0.45f, result[0], 1e-6f);
        Assert.Equal(0.6f, result[1], 1e-6f);
    }

    [Fact]
    public void Median_of_even_count_averages_the_middle_pair_and_weights_count()
    {
        var r = new MedianStrategy().Aggregate([new([1f], 1), new([2f], 1), new([3f], 1), new([10f], 1)]);
        Assert.Equal(2.5f, r[0]);
        var weighted = new MedianStrategy().Aggregate([new([1f], 1), new([2f], 1), new([3f], 5)]);
        Assert.Equal(3f, weighted[0]);
    }

    [Fact]
    public void Staleness_discount_follows_one_over_one_plus_s_to_the_alpha()
    {
        Assert.Equal(1.0, AggregationMath.StalenessDiscount(0, 0.5));
        Assert.Equal(1 / Math.Sqrt(4), AggregationMath.StalenessDiscount(3, 0.5), 12);
        Assert.Equal(0.25, AggregationMath.StalenessDiscount(3, 1), 12);
    }

    [Fact]
    public void Every_configurable_strategy_is_registered_and_an_unknown_one_is_refused_with_the_choices()
    {
        foreach (var kind in Enum.GetValues<StrategyKind>())
            Assert.NotNull(AggregationStrategies.Create(kind, Options));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => AggregationStrategies.Aggregate((StrategyKind)99, [new([1f], 1)]));
        Assert.Contains("fed-avg, trimmed-mean, median, norm-clip", e.Message);
    }

    [Fact]
    public void Bad_inputs_are_refused_with_a_reason()
    {
        Assert.Throws<ArgumentException>(() => new FedAvgStrategy().Aggregate([]));
        var e = Assert.Throws<ArgumentException>(() => new FedAvgStrategy().Aggregate([new([1f], 1), new([1f, 2f], 1)]));
        Assert.Contains("update 0 has 1", e.Message);
        Assert.Throws<ArgumentException>(() => new FedAvgStrategy().Aggregate([new([1f], 0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrimmedMeanStrategy(0.5).Aggregate([new([1f], 1)]));
    }

    private static float[] Vector(Random rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * 2 * scale)).ToArray();

    private static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());
}
