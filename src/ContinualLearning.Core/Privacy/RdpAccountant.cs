namespace ContinualLearning.Privacy;

/// <summary>How RDP at order α becomes (ε, δ)-DP.</summary>
public enum RdpConversion
{
    /// <summary>
    /// ε = RDP(α) − (ln δ + ln α)/(α − 1) + ln((α − 1)/α): Balle et al. 2020, "Hypothesis testing interpretations and
    /// Rényi differential privacy", Theorem 21 (the same bound as Canonne, Kamath &amp; Steinke 2020, Proposition 12).
    /// What Opacus's <c>get_privacy_spent</c> and Google's <c>dp_accounting</c> use; always at most <see cref="Classic"/>.
    /// </summary>
    Improved,

    /// <summary>ε = RDP(α) + ln(1/δ)/(α − 1): Mironov 2017, Proposition 3; what TF Privacy printed before 2020.</summary>
    Classic,
}

/// <summary>
/// Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (Mironov, Talwar &amp; Zhang 2019, "Rényi
/// Differential Privacy of the Sampled Gaussian Mechanism", Section 3.3): a function of L2 sensitivity 1, computed on a
/// subset where each record (here: each device) is included with probability q, plus N(0, σ²) noise. Integer orders
/// use the exact binomial expansion of A_α in log space; fractional orders the two-sided series with erfc terms, cut
/// when its terms fall below e^−30 — the computation of Opacus <c>opacus/accountants/analysis/rdp.py</c> and TF Privacy
/// <c>compute_rdp</c>, ported line for line so their published values are the reference (see the unit tests).
/// </summary>
/// <remarks>
/// Written here rather than taken from a package: no .NET library on NuGet implements an RDP or PRV accountant (checked
/// against the package list of this build environment; the maintained implementations are Python: Opacus,
/// dp_accounting, TF Privacy). RDP composes by addition, so a run of mechanisms is the sum of their RDP vectors over
/// the same orders.
/// </remarks>
public static class RdpAccountant
{
    /// <summary>Opacus's <c>RDPAccountant.DEFAULT_ALPHAS</c>: 1.1, 1.2, …, 10.9, then 12, 13, …, 63.</summary>
    public static IReadOnlyList<double> DefaultOrders { get; } =
        [.. Enumerable.Range(1, 99).Select(x => 1 + x / 10.0), .. Enumerable.Range(12, 52).Select(x => (double)x)];

    /// <summary>RDP at order <paramref name="alpha"/> of one sampled Gaussian step (sampling rate q, noise multiplier σ); may be +∞.</summary>
    public static double Rdp(double q, double sigma, double alpha)
    {
        if (q is < 0 or > 1 || double.IsNaN(q)) throw new ArgumentOutOfRangeException(nameof(q), q, "The sampling rate must be in [0, 1].");
        if (sigma < 0 || double.IsNaN(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "The noise multiplier must be ≥ 0.");
        if (alpha <= 1 || double.IsNaN(alpha)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "RDP orders must be > 1.");
        if (q == 0) return 0;
        if (sigma == 0) return double.PositiveInfinity;
        // Without subsampling the Gaussian mechanism's RDP is exactly α/(2σ²) (Mironov 2017, Proposition 7).
        if (q == 1) return alpha / (2 * sigma * sigma);
        if (double.IsPositiveInfinity(alpha)) return double.PositiveInfinity;
        var logA = alpha == Math.Floor(alpha) && alpha < int.MaxValue ? LogAIntegerOrder(q, sigma, (int)alpha) : LogAFractionalOrder(q, sigma, alpha);
        return logA / (alpha - 1);
    }

    /// <summary>RDP at each of <paramref name="orders"/> of <paramref name="steps"/> sampled Gaussian steps.</summary>
    public static double[] Rdp(double q, double sigma, long steps, IReadOnlyList<double> orders)
    {
        ArgumentNullException.ThrowIfNull(orders);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        var rdp = new double[orders.Count];
        for (var i = 0; i < rdp.Length; i++) rdp[i] = steps == 0 ? 0 : Rdp(q, sigma, orders[i]) * steps;
        return rdp;
    }

    /// <summary>The smallest ε over <paramref name="orders"/> at <paramref name="delta"/> for the composed <paramref name="rdp"/>, and the order that gave it.</summary>
    public static (double Epsilon, double Order) Epsilon(IReadOnlyList<double> orders, IReadOnlyList<double> rdp, double delta,
        RdpConversion conversion = RdpConversion.Improved)
    {
        ArgumentNullException.ThrowIfNull(orders);
        ArgumentNullException.ThrowIfNull(rdp);
        if (orders.Count != rdp.Count) throw new ArgumentException($"{orders.Count} orders but {rdp.Count} RDP values; give one value per order.", nameof(rdp));
        if (delta is <= 0 or >= 1 || double.IsNaN(delta)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must be in (0, 1).");
        var best = (Epsilon: double.PositiveInfinity, Order: double.NaN);
        for (var i = 0; i < orders.Count; i++)
        {
            var a = orders[i];
            var eps = conversion == RdpConversion.Improved
                ? rdp[i] - (Math.Log(delta) + Math.Log(a)) / (a - 1) + Math.Log((a - 1) / a)
                : rdp[i] - Math.Log(delta) / (a - 1);
            if (!double.IsNaN(eps) && eps < best.Epsilon) best = (eps, a);
        }
        return best;
    }

    /// <summary>ε at <paramref name="delta"/> after <paramref name="steps"/> sampled Gaussian steps, over <see cref="DefaultOrders"/>.</summary>
    public static double Epsilon(double q, double sigma, long steps, double delta) =>
        Epsilon(DefaultOrders, Rdp(q, sigma, steps, DefaultOrders), delta).Epsilon;

    /// <summary>log A_α for integer α: Σ_i C(α,i) q^i (1−q)^(α−i) exp((i²−i)/(2σ²)), summed in log space.</summary>
    private static double LogAIntegerOrder(double q, double sigma, int alpha)
    {
        var logA = double.NegativeInfinity;
        var logBinom = 0.0; // ln C(α, 0)
        for (var i = 0; i <= alpha; i++)
        {
            if (i > 0) logBinom += Math.Log(alpha - i + 1) - Math.Log(i);
            var s = logBinom + i * Math.Log(q) + (alpha - i) * Math.Log(1 - q) + (i * (double)i - i) / (2 * sigma * sigma);
            logA = LogAdd(logA, s);
        }
        return logA;
    }

    /// <summary>log A_α for fractional α: the two series of Mironov et al. 2019, Section 3.3, with the erfc tails.</summary>
    private static double LogAFractionalOrder(double q, double sigma, double alpha)
    {
        double logA0 = double.NegativeInfinity, logA1 = double.NegativeInfinity;
        var z0 = sigma * sigma * Math.Log(1 / q - 1) + 0.5;
        var coef = 1.0; // C(α, i) for real α, by the product recurrence (its sign alternates once i > α)
        for (var i = 0; ; i++)
        {
            if (i > 0) coef *= (alpha - i + 1) / i;
            var logCoef = Math.Log(Math.Abs(coef));
            var j = alpha - i;
            var logT0 = logCoef + i * Math.Log(q) + j * Math.Log(1 - q);
            var logT1 = logCoef + j * Math.Log(q) + i * Math.Log(1 - q);
            var logE0 = Math.Log(0.5) + Erfc.Log((i - z0) / (Math.Sqrt(2) * sigma));
            var logE1 = Math.Log(0.5) + Erfc.Log((z0 - j) / (Math.Sqrt(2) * sigma));
            var logS0 = logT0 + (i * (double)i - i) / (2 * sigma * sigma) + logE0;
            var logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
            if (coef > 0)
            {
                logA0 = LogAdd(logA0, logS0);
                logA1 = LogAdd(logA1, logS1);
            }
            else
            {
                logA0 = LogSub(logA0, logS0);
                logA1 = LogSub(logA1, logS1);
            }
            if (Math.Max(logS0, logS1) < -30) break;
        }
        return LogAdd(logA0, logA1);
    }

    private static double LogAdd(double x, double y)
    {
        var (a, b) = (Math.Min(x, y), Math.Max(x, y));
        return double.IsNegativeInfinity(a) ? b : Erfc.Log1P(Math.Exp(a - b)) + b;
    }

    private static double LogSub(double x, double y)
    {
        if (x < y) throw new ArithmeticException("RDP series: a log-space subtraction would go negative; the order or noise is out of the series' range.");
        if (double.IsNegativeInfinity(y)) return x;
        if (x == y) return double.NegativeInfinity;
        var d = Erfc.ExpM1(x - y);
        return double.IsPositiveInfinity(d) ? x : Math.Log(d) + y;
    }
}
