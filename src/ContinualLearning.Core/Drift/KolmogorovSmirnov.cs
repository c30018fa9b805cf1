namespace ContinualLearning.Drift;

/// <summary>Result of a two-sample Kolmogorov–Smirnov test.</summary>
/// <param name="D">Largest distance between the two empirical CDFs, in [0, 1].</param>
/// <param name="PValue">Asymptotic p-value of D under "both samples come from one continuous distribution".</param>
public readonly record struct KsResult(double D, double PValue);

/// <summary>
/// Two-sample Kolmogorov–Smirnov test. D is exact; the p-value uses the Kolmogorov limiting
/// distribution Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²} at λ = (√n_e + 0.12 + 0.11/√n_e)·D with
/// n_e = n·m/(n+m) — Stephens' small-sample correction, as in Numerical Recipes' <c>kstwo</c>.
/// It is close to SciPy's <c>ks_2samp(method="asymp")</c> for samples of a few dozen and more; with
/// many tied values (discrete features) the test is conservative (p too large).
/// </summary>
public static class KolmogorovSmirnov
{
    /// <summary>Runs the test on samples <paramref name="a"/> and <paramref name="b"/> (order irrelevant, NaN rejected).</summary>
    public static KsResult Test(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.IsEmpty || b.IsEmpty)
        {
            throw new ArgumentException($"The KS test needs two non-empty samples (got {a.Length} and {b.Length} values).");
        }
        var x = Sorted(a, nameof(a));
        var y = Sorted(b, nameof(b));
        var d = Statistic(x, y);
        var ne = (double)x.Length * y.Length / (x.Length + y.Length);
        var sqrtNe = Math.Sqrt(ne);
        var p = Survival((sqrtNe + 0.12 + 0.11 / sqrtNe) * d);
        return new KsResult(d, p);
    }

    /// <summary>sup |F_x − F_y| for two sorted samples; ties are stepped over together so equal values never create a spurious gap.</summary>
    internal static double Statistic(double[] x, double[] y)
    {
        int i = 0, j = 0;
        var d = 0.0;
        while (i < x.Length && j < y.Length)
        {
            var v = Math.Min(x[i], y[j]);
            while (i < x.Length && x[i] == v)
            {
                i++;
            }
            while (j < y.Length && y[j] == v)
            {
                j++;
            }
            d = Math.Max(d, Math.Abs((double)i / x.Length - (double)j / y.Length));
        }
        return d;
    }

    /// <summary>
    /// Q_KS(λ) = P(K &gt; λ) for the Kolmogorov distribution K. For small λ the alternating series
    /// converges slowly, so there the Jacobi-theta form K(λ) = √(2π)/λ Σ e^{−(2k−1)²π²/(8λ²)} is used.
    /// </summary>
    public static double Survival(double lambda)
    {
        if (double.IsNaN(lambda))
        {
            throw new ArgumentException("Kolmogorov survival function called with NaN.", nameof(lambda));
        }
        if (lambda <= 0)
        {
            return 1;
        }
        if (lambda < 1.18)
        {
            var cdf = 0.0;
            var c = -Math.PI * Math.PI / (8 * lambda * lambda);
            for (var k = 1; k <= 20; k++)
            {
                var odd = 2 * k - 1;
                cdf += Math.Exp(c * odd * odd);
            }
            return Math.Clamp(1 - Math.Sqrt(2 * Math.PI) / lambda * cdf, 0, 1);
        }
        var sum = 0.0;
        var sign = 1.0;
        for (var k = 1; k <= 100; k++)
        {
            var term = Math.Exp(-2.0 * k * k * lambda * lambda);
            sum += sign * term;
            if (term < 1e-17)
            {
                break;
            }
            sign = -sign;
        }
        return Math.Clamp(2 * sum, 0, 1);
    }

    private static double[] Sorted(ReadOnlySpan<double> values, string name)
    {
        var s = values.ToArray();
        foreach (var v in s)
        {
            if (double.IsNaN(v))
            {
                throw new ArgumentException($"KS sample '{name}' contains NaN; drop or impute missing values first.", name);
            }
        }
        Array.Sort(s);
        return s;
    }
}
