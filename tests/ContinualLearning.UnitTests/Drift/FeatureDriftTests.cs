using ContinualLearning.Drift;

namespace ContinualLearning.UnitTests.Drift;

public sealed class FeatureDriftTests
{
    private static double[] Normal(int n, double mean, double sd, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => mean + sd * ErrorStreamDetectorTests.Gaussian(rng))];
    }

    [Theory]
    // Kolmogorov distribution tail Q(λ): standard critical values and SciPy's kstwobign.sf(1.0) = 0.26999967.
    [InlineData(1.0, 0.26999967167735456, 1e-9)]
    [InlineData(1.3581, 0.05, 1e-5)]
    [InlineData(1.6276, 0.01, 1e-5)]
    [InlineData(1.2238, 0.10, 1e-4)]
    [InlineData(0.5, 0.9639452436648751, 1e-9)] // 1 − K(0.5), K(0.5) = 0.0360548
    public void Kolmogorov_survival_matches_known_values(double lambda, double expected, double tolerance)
    {
        Assert.Equal(expected, KolmogorovSmirnov.Survival(lambda), tolerance);
    }

    [Fact]
    public void Ks_survival_is_continuous_where_the_two_series_meet()
    {
        Assert.Equal(KolmogorovSmirnov.Survival(1.18 - 1e-9), KolmogorovSmirnov.Survival(1.18 + 1e-9), 1e-7);
    }

    [Fact]
    public void Ks_statistic_and_p_value_for_separated_samples_match_hand_computation()
    {
        // Fully separated: D = 1. n_e = 25/10 = 2.5, λ = (√2.5 + 0.12 + 0.11/√2.5)·1 = 1.770709,
        // Q(λ) = 2(e^{−2λ²} − e^{−8λ²} + …) = 0.00378135.
        var r = KolmogorovSmirnov.Test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
        Assert.Equal(1.0, r.D, 12);
        Assert.Equal(0.0037813540593701006, r.PValue, 1e-9);
    }

    [Fact]
    public void Ks_statistic_handles_interleaving_and_ties()
    {
        // Interleaved: the CDFs differ by at most one step of 1/5.
        Assert.Equal(0.2, KolmogorovSmirnov.Test([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]).D, 12);
        // Identical samples with ties: D must be 0 (stepping over ties together), p = 1.
        var same = KolmogorovSmirnov.Test([1, 1, 2, 2, 3], [3, 2, 1, 2, 1]);
        Assert.Equal(0.0, same.D);
        Assert.Equal(1.0, same.PValue);
        // Different sizes: a = {0,0,1}, b = {0,1,1,1}: at 0, F_a = 2/3, F_b = 1/4 -> D = 5/12.
        Assert.Equal(5.0 / 12, KolmogorovSmirnov.Test([0, 0, 1], [0, 1, 1, 1]).D, 12);
    }

    [Fact]
    public void Ks_p_values_are_roughly_uniform_under_the_null()
    {
        // 400 pairs from one distribution: about 5% should fall below 0.05 (binomial sd ≈ 1.1%).
        var below = 0;
        for (var t = 0; t < 400; t++)
        {
            var r = KolmogorovSmirnov.Test(Normal(100, 0, 1, 2 * t), Normal(120, 0, 1, 2 * t + 1));
            below += r.PValue < 0.05 ? 1 : 0;
        }
        Assert.InRange(below / 400.0, 0.02, 0.08);
    }

    [Fact]
    public void Ks_rejects_a_half_sd_shift_with_a_small_p_value()
    {
        var r = KolmogorovSmirnov.Test(Normal(500, 0, 1, 1), Normal(500, 0.5, 1, 2));
        Assert.True(r.PValue < 1e-6, $"p = {r.PValue}, D = {r.D}");
    }

    [Fact]
    public void Psi_of_a_sample_with_itself_is_zero_and_of_a_fresh_sample_is_small()
    {
        var a = Normal(5000, 0, 1, 1);
        Assert.Equal(0.0, Psi.Compute(a, a), 12);
        var psi = Psi.Compute(a, Normal(5000, 0, 1, 2));
        Assert.InRange(psi, 0, 0.02);
        Assert.Equal(PsiLevel.Stable, Psi.Classify(psi));
    }

    [Fact]
    public void Psi_of_a_one_sd_shift_is_significant()
    {
        var psi = Psi.Compute(Normal(5000, 0, 1, 1), Normal(5000, 1, 1, 2));
        Assert.True(psi > Psi.SignificantThreshold, $"PSI {psi}");
        Assert.Equal(PsiLevel.Significant, Psi.Classify(psi));
        // A smaller shift gives a smaller index: PSI grows with the shift.
        Assert.True(Psi.Compute(Normal(5000, 0, 1, 1), Normal(5000, 0.3, 1, 2)) < psi);
    }

    [Fact]
    public void Psi_uses_epsilon_for_empty_bins_as_derived_by_hand()
    {
        // Reference 1..10 with 2 bins splits at the median 5.5: r = (0.5, 0.5). All current values
        // fall in bin 0: c = (1, ε). PSI = 0.5·ln 2 + (ε − 0.5)·ln(ε / 0.5) = 4.604318 for ε = 1e-4.
        var psi = Psi.Compute([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 1, 2, 3], bins: 2, epsilon: 1e-4);
        Assert.Equal(0.5 * Math.Log(2) + (1e-4 - 0.5) * Math.Log(1e-4 / 0.5), psi, 12);
        Assert.Equal(4.60431846666895, psi, 9);
    }

    [Fact]
    public void Psi_bins_tolerate_discrete_features_with_ties()
    {
        // Day-of-week-like feature: many tied quantiles collapse into fewer bins, identical dist -> ~0.
        var rng = new Random(1);
        double[] Days(int n) => [.. Enumerable.Range(0, n).Select(_ => (double)rng.Next(1, 8))];
        Assert.InRange(Psi.Compute(Days(3000), Days(3000)), 0, 0.02);
        Assert.True(Psi.Compute(Days(3000), [.. Days(3000).Select(d => Math.Min(7, d + 2))]) > 0.25);
    }

    [Fact]
    public void Monitor_reports_only_the_feature_that_shifted()
    {
        var monitor = new FeatureDriftMonitor(["a", "b", "c"], new FeatureDriftOptions { ReferenceSize = 1000, WindowSize = 500 });
        var rng = new Random(42);
        float Next(double mean) => (float)(mean + ErrorStreamDetectorTests.Gaussian(rng));
        for (var i = 0; i < 1000; i++)
        {
            monitor.Add([Next(0), Next(5), Next(-3)]);
        }
        Assert.True(monitor.HasReference);
        Assert.False(monitor.IsReady);
        for (var i = 0; i < 500; i++)
        {
            monitor.Add([Next(0), Next(5), Next(-3)]);
        }
        Assert.False(monitor.Check().AnyDrift);

        for (var i = 0; i < 500; i++)
        {
            monitor.Add([Next(0), Next(6), Next(-3)]); // feature b moves by 1 sd
        }
        var report = monitor.Check();
        var drifted = Assert.Single(report.Drifted);
        Assert.Equal("b", drifted.Name);
        Assert.True(drifted.Psi > 0.25 && drifted.KsPValue < 1e-6);

        // After rebasing onto the new window the shifted distribution is the reference.
        monitor.Rebase();
        for (var i = 0; i < 500; i++)
        {
            monitor.Add([Next(0), Next(6), Next(-3)]);
        }
        Assert.False(monitor.Check().AnyDrift);
    }

    [Fact]
    public void Monitor_errors_name_the_problem()
    {
        var monitor = new FeatureDriftMonitor(["x", "y"]);
        var ex = Assert.Throws<ArgumentException>(() => monitor.Add([1f]));
        Assert.Contains("x, y", ex.Message);
        var notReady = Assert.Throws<InvalidOperationException>(() => monitor.Check());
        Assert.Contains("0/1000", notReady.Message);
    }
}
