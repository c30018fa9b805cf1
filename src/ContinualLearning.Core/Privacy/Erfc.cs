namespace ContinualLearning.Privacy;

/// <summary>
/// ln erfc(x) to near double precision for any real x (.NET has no erfc): the fractional-order RDP series needs it far
/// into the tail, where erfc underflows long before its logarithm does (what Opacus gets from scipy's <c>log_ndtr</c>).
/// </summary>
internal static class Erfc
{
    private static readonly double LogSqrtPi = 0.5 * Math.Log(Math.PI);

    /// <summary>ln erfc(x).</summary>
    public static double Log(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return Math.Log(2 - Math.Exp(Log(-x)));
        // Below 2.5 the series for erf has only positive terms and erfc ≥ 4e-4, so 1 − erf loses at most 4 digits.
        return x < 2.5 ? Log1P(-Erf(x)) : -x * x - LogSqrtPi - Math.Log(ContinuedFraction(x));
    }

    /// <summary>ln(1 + x), exact near 0 where 1 + x would round.</summary>
    public static double Log1P(double x) => Math.Abs(x) < 1e-4 ? x * (1 - x * (0.5 - x / 3)) : Math.Log(1 + x);

    /// <summary>e^x − 1, exact near 0 where e^x would round to 1.</summary>
    public static double ExpM1(double x) => Math.Abs(x) < 1e-5 ? x * (1 + x * (0.5 + x / 6)) : Math.Exp(x) - 1;

    /// <summary>erf(x) for 0 ≤ x &lt; 2.5: 2/√π e^{−x²} Σ (2x²)^n x / (1·3·…·(2n+1)).</summary>
    private static double Erf(double x)
    {
        double term = x, sum = x;
        for (var n = 1; n < 500 && term > sum * 1e-17; n++)
        {
            term *= 2 * x * x / (2 * n + 1);
            sum += term;
        }
        return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x) * sum;
    }

    /// <summary>
    /// x + (1/2)/(x + 1/(x + (3/2)/(x + …))) by Lentz's method, so that erfc(x) = e^{−x²}/(√π · this); converges
    /// quickly for x ≥ 2.5.
    /// </summary>
    private static double ContinuedFraction(double x)
    {
        const double Tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (var n = 1; n < 10_000; n++)
        {
            var a = n / 2.0;
            d = x + a * d;
            if (Math.Abs(d) < Tiny) d = Tiny;
            d = 1 / d;
            c = x + a / c;
            if (Math.Abs(c) < Tiny) c = Tiny;
            var delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return f;
    }
}
