using ContinualLearning.Privacy;

namespace ContinualLearning.UnitTests.Privacy;

/// <summary>The RDP accountant against values its reference implementations publish (each within 1 %, source cited per case).</summary>
public sealed class RdpAccountantTests
{
    private static void Within1Percent(double expected, double actual) =>
        Assert.True(Math.Abs(actual - expected) <= 0.01 * expected, $"ε {actual} is not within 1 % of the published {expected}");

    /// <summary>Opacus <c>opacus/tests/accountants_test.py</c>, <c>test_rdp_accountant</c>: q 0.04, σ 1.5, int(90/0.04) steps, δ 1e-5, DEFAULT_ALPHAS → 7.32911117143.</summary>
    [Fact]
    public void Opacus_rdp_accountant_test_value()
    {
        Within1Percent(7.32911117143, RdpAccountant.Epsilon(0.04, 1.5, (long)(90 / 0.04), 1e-5));
    }

    /// <summary>
    /// TF Privacy <c>tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py</c>, Test0 and Test1
    /// (dp_accounting's RDP with the improved conversion, orders 1.25…4.5, 5…63, 128, 256, 512; steps ⌈epochs·n/batch⌉).
    /// </summary>
    [Theory]
    [InlineData(60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19.0)]
    [InlineData(100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13.0)]
    public void TF_Privacy_compute_dp_sgd_privacy_test_values(int n, int batch, double sigma, int epochs, double delta, double expected, double expectedOrder)
    {
        double[] orders = [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5, .. Enumerable.Range(5, 59).Select(x => (double)x), 128, 256, 512];
        var steps = (long)Math.Ceiling(epochs * (double)n / batch);
        var (eps, order) = RdpAccountant.Epsilon(orders, RdpAccountant.Rdp(batch / (double)n, sigma, steps, orders), delta);
        Within1Percent(expected, eps);
        Assert.Equal(expectedOrder, order);
    }

    /// <summary>
    /// TF Privacy <c>tutorials/README.md</c>, the MNIST DP-SGD table (n 60000, batch 256, δ 1e-5; printed to two
    /// decimals with the classic conversion ε = RDP + ln(1/δ)/(α−1) and orders 1.1…10.9, 12…63):
    /// σ 1.3 × 15 epochs → 1.19, σ 1.1 × 60 epochs → 3.01, σ 0.7 × 45 epochs → 7.10.
    /// </summary>
    [Theory]
    [InlineData(1.3, 15, 1.19)]
    [InlineData(1.1, 60, 3.01)]
    [InlineData(0.7, 45, 7.10)]
    public void TF_Privacy_MNIST_tutorial_table(double sigma, int epochs, double expected)
    {
        var orders = RdpAccountant.DefaultOrders;
        var steps = epochs * 60000L / 256;
        var (eps, _) = RdpAccountant.Epsilon(orders, RdpAccountant.Rdp(256 / 60000.0, sigma, steps, orders), 1e-5, RdpConversion.Classic);
        Within1Percent(expected, eps);
    }

    /// <summary>Opacus <c>opacus/accountants/analysis/rdp.py</c> module docstring: [(1e-5, σ 1.0, 10 steps), (1e-4, σ 3.0, 4 steps)], orders 2…32, δ 1e-5 → (0.336, 23).</summary>
    [Fact]
    public void Opacus_rdp_module_docstring_composition()
    {
        var orders = Enumerable.Range(2, 31).Select(x => (double)x).ToArray();
        var a = RdpAccountant.Rdp(1e-5, 1.0, 10, orders);
        var b = RdpAccountant.Rdp(1e-4, 3.0, 4, orders);
        var (eps, order) = RdpAccountant.Epsilon(orders, a.Zip(b, (x, y) => x + y).ToArray(), 1e-5);
        Within1Percent(0.336, eps);
        Assert.Equal(23, order);
    }

    /// <summary>Without subsampling the Gaussian mechanism's RDP is α/(2σ²) (Mironov 2017, Proposition 7).</summary>
    [Theory]
    [InlineData(0.5, 2.0)]
    [InlineData(1.0, 7.5)]
    [InlineData(4.0, 32.0)]
    public void No_subsampling_is_the_closed_form(double sigma, double alpha)
    {
        Assert.Equal(alpha / (2 * sigma * sigma), RdpAccountant.Rdp(1.0, sigma, alpha), 12);
    }

    /// <summary>Subsampling amplifies privacy (q &lt; 1 costs less than q = 1) and the integer and fractional formulas meet.</summary>
    [Fact]
    public void Subsampled_costs_less_and_orders_are_continuous()
    {
        Assert.True(RdpAccountant.Rdp(0.1, 1.0, 8) < RdpAccountant.Rdp(1.0, 1.0, 8));
        var integer = RdpAccountant.Rdp(0.05, 1.2, 8);
        var nearby = RdpAccountant.Rdp(0.05, 1.2, 8.000001);
        Assert.True(Math.Abs(integer - nearby) <= 1e-4 * integer, $"RDP at 8 ({integer}) and 8.000001 ({nearby}) differ");
    }

    [Fact]
    public void The_improved_conversion_never_exceeds_the_classic_one()
    {
        var orders = RdpAccountant.DefaultOrders;
        var rdp = RdpAccountant.Rdp(0.01, 1.0, 1000, orders);
        Assert.True(RdpAccountant.Epsilon(orders, rdp, 1e-5).Epsilon < RdpAccountant.Epsilon(orders, rdp, 1e-5, RdpConversion.Classic).Epsilon);
    }

    [Theory]
    [InlineData(1.0, 0.157299207050285)]
    [InlineData(3.0, 2.209049699858544e-05)]
    [InlineData(5.0, 1.537459794428035e-12)]
    [InlineData(-1.0, 1.842700792949715)]
    [InlineData(0.1, 0.887537083981715)]
    public void Log_erfc_matches_tabulated_values(double x, double erfc)
    {
        Assert.Equal(Math.Log(erfc), Erfc.Log(x), 10);
    }

    [Fact]
    public void Log_erfc_far_in_the_tail_follows_the_asymptote()
    {
        // erfc(x) ≈ e^{−x²}/(x√π) (1 − 1/(2x²) + 3/(4x⁴)) for large x; at x = 30 the next term is below 1e-9.
        const double x = 30;
        var x2 = x * x;
        Assert.Equal(-x2 - Math.Log(x * Math.Sqrt(Math.PI)) + Math.Log(1 - 1 / (2 * x2) + 3 / (4 * x2 * x2)), Erfc.Log(x), 8);
    }
}
