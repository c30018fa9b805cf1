using ContinualLearning.Replay;

namespace ContinualLearning.UnitTests.Storage;

/// <summary>The pure replay policies in Core (tested here with the store that uses them).</summary>
public sealed class ReplayPolicyTests
{
    /// <summary>Chi-square critical value for 9 degrees of freedom at p = 0.001.</summary>
    internal const double ChiSquare9At001 = 27.88;

    internal static double ChiSquare(IReadOnlyList<long> observed, double expected) =>
        observed.Sum(o => (o - expected) * (o - expected) / expected);

    [Fact]
    public void Reservoir_fills_free_slots_then_holds_its_capacity()
    {
        var policy = ReplayPolicy.Create(ReplayPolicyKind.Reservoir, 5, 0, seed: 1);
        Assert.Equal([0, 1, 2, 3, 4], Enumerable.Range(0, 5).Select(_ => policy.Offer(-1)));
        var later = Enumerable.Range(0, 1000).Select(_ => policy.Offer(-1)).ToArray();
        Assert.All(later, slot => Assert.InRange(slot, -1, 4));
        Assert.Equal(5, policy.Count);
        Assert.Equal(1005, policy.Seen);
        // Algorithm R admits the n-th sample with probability k/n: about k·(H(1005) − H(5)) ≈ 26 admissions.
        Assert.InRange(later.Count(s => s >= 0), 10, 50);
    }

    [Fact]
    public void Reservoir_keeps_every_offered_sample_with_equal_probability()
    {
        // 300 seeded runs of 1000 offers into 100 slots: each item is kept with probability 0.1, so each decile
        // of the stream (100 items) is expected 300·100·0.1 = 3000 times. A recency-biased policy fails this by far.
        const int n = 1000, k = 100, runs = 300;
        var perDecile = new long[10];
        for (var seed = 0; seed < runs; seed++)
        {
            var policy = ReplayPolicy.Create(ReplayPolicyKind.Reservoir, k, 0, seed);
            var slotItem = new int[k];
            for (var item = 0; item < n; item++)
            {
                var slot = policy.Offer(-1);
                if (slot >= 0) slotItem[slot] = item;
            }
            foreach (var item in slotItem) perDecile[item / (n / 10)]++;
        }
        var chi = ChiSquare(perDecile, runs * k / 10.0);
        Assert.True(chi < ChiSquare9At001, $"chi² = {chi:F1} ≥ {ChiSquare9At001} (9 df, p = 0.001); kept per decile: {string.Join(", ", perDecile)}");
    }

    [Fact]
    public void Class_balanced_keeps_classes_equal_on_an_imbalanced_stream()
    {
        // Class 0 is 80% of the stream, class 1 15%, class 2 5%: each still ends with a third of 30 slots.
        var policy = (ClassBalancedPolicy)ReplayPolicy.Create(ReplayPolicyKind.ClassBalanced, 30, 3, seed: 7);
        var rng = new Random(3);
        for (var i = 0; i < 5000; i++)
        {
            var u = rng.NextDouble();
            policy.Offer(u < 0.8 ? 0 : u < 0.95 ? 1 : 2);
        }
        Assert.Equal([10, 10, 10], Enumerable.Range(0, 3).Select(policy.CountOf));
        Assert.Equal(30, policy.Count);
    }

    [Fact]
    public void Class_balanced_gives_a_rare_class_all_its_samples_until_it_reaches_its_share()
    {
        var policy = (ClassBalancedPolicy)ReplayPolicy.Create(ReplayPolicyKind.ClassBalanced, 12, 3, seed: 1);
        for (var i = 0; i < 100; i++) policy.Offer(0);
        Assert.Equal(12, policy.CountOf(0));
        for (var i = 0; i < 3; i++) Assert.NotEqual(-1, policy.Offer(2));
        Assert.Equal([9, 0, 3], Enumerable.Range(0, 3).Select(policy.CountOf));
        // Within the largest class it is a reservoir, so later class-0 samples are sometimes refused.
        Assert.Contains(-1, Enumerable.Range(0, 50).Select(_ => policy.Offer(0)));
        Assert.Equal([9, 0, 3], Enumerable.Range(0, 3).Select(policy.CountOf));
    }

    [Fact]
    public void Class_balanced_refuses_a_class_outside_its_label_count()
    {
        var policy = ReplayPolicy.Create(ReplayPolicyKind.ClassBalanced, 4, 2, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => policy.Offer(2));
        Assert.Contains("Class index 2 is outside 0…1", e.Message);
    }

    [Fact]
    public void Restored_policy_resumes_counts_and_classes()
    {
        var policy = ReplayPolicy.Create(ReplayPolicyKind.ClassBalanced, 6, 2, seed: 5);
        foreach (var c in new[] { 0, 0, 0, 0, 1, 0, 0, 1 }) policy.Offer(c);
        var restored = (ClassBalancedPolicy)ReplayPolicy.Restore(ReplayPolicyKind.ClassBalanced, 6, 2, 5, policy.ExportState());
        Assert.Equal(policy.Count, restored.Count);
        Assert.Equal(policy.Seen, restored.Seen);
        Assert.Equal(Enumerable.Range(0, 6).Select(policy.ClassOfSlot), Enumerable.Range(0, 6).Select(restored.ClassOfSlot));
        Assert.Equal(4, restored.CountOf(0));
        Assert.Equal(2, restored.CountOf(1));
    }
}
