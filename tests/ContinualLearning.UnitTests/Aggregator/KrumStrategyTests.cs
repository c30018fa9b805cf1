using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>Krum and Multi-Krum (Blanchard et al. 2017); the order and identity properties of every strategy are in <see cref="StrategyPropertyTests"/>.</summary>
public sealed class KrumStrategyTests
{
    private static float[] Vector(Random rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

    /// <summary>Honest updates = truth + small noise; the first <paramref name="bad"/> are replaced by <paramref name="attack"/>.</summary>
    private static (float[] Truth, WeightedUpdate[] Updates) Fleet(int seed, int devices, int bad, Func<float[], float[]> attack)
    {
        var rng = new Random(seed);
        var truth = Vector(rng, 60, 1.0);
        var updates = Enumerable.Range(0, devices).Select(d =>
        {
            var honest = truth.Select(v => v + (float)((rng.NextDouble() - 0.5) * 0.1)).ToArray();
            return new WeightedUpdate(d < bad ? attack(honest) : honest, 1 + rng.NextDouble());
        }).ToArray();
        return (truth, updates);
    }

    public static TheoryData<int, string> Attacks()
    {
        var data = new TheoryData<int, string>();
        foreach (var seed in new[] { 1, 2, 3 })
            foreach (var attack in new[] { "sign-flip", "scale", "constant" })
                data.Add(seed, attack);
        return data;
    }

    private static Func<float[], float[]> Attack(string name) => name switch
    {
        "sign-flip" => v => v.Select(x => -10 * x).ToArray(),
        "scale" => v => v.Select(x => 50 * x).ToArray(),
        _ => v => v.Select(_ => 3f).ToArray(),
    };

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Krum_never_selects_a_malicious_update_and_returns_one_honest_update_unchanged(int seed, string attack)
    {
        var (_, updates) = Fleet(seed, devices: 20, bad: 4, Attack(attack));

        var result = new KrumStrategy(byzantine: 4, keep: 1).Aggregate(updates);

        var chosen = Array.FindIndex(updates, u => u.Values.AsSpan().SequenceEqual(result));
        Assert.True(chosen >= 4, $"Krum chose update {chosen}; 0–3 are the attackers");
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public void Multi_krum_averages_only_honest_updates(int seed, string attack)
    {
        var (truth, updates) = Fleet(seed, devices: 20, bad: 4, Attack(attack));

        var result = AggregationStrategies.Aggregate(StrategyKind.MultiKrum, updates, new StrategyOptions { ByzantineDevices = 4 });

        // The mean of the 16 honest updates is truth ± 0.05/√16 per coordinate; one attacker in it would move it by ≥ 0.15.
        var honestMean = AggregationMath.WeightedMean(updates[4..]);
        for (var i = 0; i < truth.Length; i++) Assert.Equal(honestMean[i], result[i], 1e-5f);
    }

    [Fact]
    public void With_all_honest_updates_equal_both_return_that_update()
    {
        var honest = Vector(new Random(5), 30, 1.0);
        var updates = Enumerable.Range(0, 9)
            .Select(d => new WeightedUpdate(d < 2 ? honest.Select(v => v + 0.5f * d + 0.1f).ToArray() : (float[])honest.Clone(), d + 1.0))
            .ToArray();

        Assert.Equal(honest, new KrumStrategy(2, 1).Aggregate(updates));
        var multi = new KrumStrategy(2, 0).Aggregate(updates);
        for (var i = 0; i < honest.Length; i++) Assert.Equal(honest[i], multi[i], 1e-6f);
    }

    [Fact]
    public void Scores_use_the_n_minus_f_minus_2_nearest_neighbours()
    {
        // f = 1, n = 5: 2 neighbours. Points on a line at 0, 1, 2, 3, 10: scores 1+4, 1+1, 1+1, 1+4, 49+64.
        // Ties (1 and 2 score 2) are broken by value, so Krum returns 1; Multi-Krum with m = 3 averages 1, 2 and one of 0/3 (tie at 5: value order picks 0).
        WeightedUpdate[] updates = [new([3f], 1), new([10f], 1), new([0f], 1), new([2f], 1), new([1f], 1)];
        Assert.Equal([1f], new KrumStrategy(1, 1).Aggregate(updates));
        Assert.Equal([1f], new KrumStrategy(1, 3).Aggregate(updates));
        // m = 0 is n − f = 4: everything but the outlier.
        Assert.Equal([1.5f], new KrumStrategy(1, 0).Aggregate(updates));
        // m above n − f is held to n − f: the outlier never enters the mean.
        Assert.Equal([1.5f], new KrumStrategy(1, 5).Aggregate(updates));
    }

    [Fact]
    public void Sparse_deltas_are_compared_whole_so_a_one_coordinate_delta_is_not_everyone_s_neighbour()
    {
        // Honest devices send top-3 of a shared direction on different coordinates; the attacker sends one coordinate.
        // Compared only where both carry values it would sit at distance 0 from every honest delta; compared whole it is far.
        var rng = new Random(11);
        var truth = Enumerable.Range(0, 12).Select(i => 0.3f + 0.01f * i).ToArray();
        var updates = new List<WeightedUpdate> { new(Enumerable.Range(0, 12).Select(i => i == 0 ? 5f : 0f).ToArray(), 1) };
        for (var d = 0; d < 9; d++)
        {
            var sparse = new float[12];
            foreach (var i in Enumerable.Range(0, 12).OrderBy(_ => rng.Next()).Take(3)) sparse[i] = truth[i];
            updates.Add(new WeightedUpdate(sparse, 1));
        }

        var krum = new KrumStrategy(1, 1).Aggregate(updates);

        Assert.NotEqual(5f, krum[0]);
        Assert.Equal(3, krum.Count(v => v != 0));
    }

    [Fact]
    public void Needs_2f_plus_3_updates_and_weighs_by_the_staleness_discount_only()
    {
        IAggregationStrategy krum = new KrumStrategy(byzantine: 2, keep: 1);
        Assert.Equal(7, krum.MinUpdates);
        Assert.False(krum.WeighsBySamples);
        Assert.Equal(1, ((IAggregationStrategy)new MedianStrategy()).MinUpdates);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KrumStrategy(-1, 1));
    }

    [Fact]
    public void A_round_with_fewer_than_2f_plus_3_devices_keeps_its_deltas_buffered()
    {
        var global = AggregatorTestKit.Weights(AggregatorTestKit.SmallHead, 1);
        var options = new AggregationOptions { Strategy = StrategyKind.Krum, MinDevices = 1, StrategyOptions = new StrategyOptions { ByzantineDevices = 1 } };
        BufferedDelta Delta(string device)
        {
            var id = Guid.NewGuid();
            var dense = AggregatorTestKit.SmallHead.Parameters()
                .Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(0.01f, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray())).ToArray();
            return new BufferedDelta(new PendingDelta(id.ToString("D"), device, "1.0.0", 10, DateTimeOffset.UnixEpoch,
                AggregatorTestKit.Encode(device, id, "1.0.0", 10, dense)), 0, false);
        }

        var four = AggregationRound.Run(global, AggregatorTestKit.SmallHead, new[] { "a", "b", "c", "d" }.Select(Delta).ToArray(), options, new ValidationOptions());
        var five = AggregationRound.Run(global, AggregatorTestKit.SmallHead, new[] { "a", "b", "c", "d", "e" }.Select(Delta).ToArray(), options, new ValidationOptions());

        Assert.Null(four.Weights);
        Assert.Empty(four.Used);
        Assert.Contains("krum with 1 Byzantine device(s) needs 5 (2f + 3)", four.Held, StringComparison.Ordinal);
        Assert.NotNull(five.Weights);
        Assert.Equal(5, five.Used.Count);
    }
}
