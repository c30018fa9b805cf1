namespace ContinualLearning.Training;

/// <summary>
/// How much two models' mean losses on the same samples can differ by chance. Scored on the same n samples, model a's
/// and model b's losses are paired; the difference of their means is the mean of the per-sample differences
/// dᵢ = aᵢ − bᵢ, whose standard error is s_d / √n (s_d the sample standard deviation of the dᵢ, n − 1 in the
/// denominator). Concept-aware aggregation weighs a device's local advantage against it (docs/federated.md,
/// "Concept-aware aggregation"): pairing removes the variance both models share (the hard samples are hard for both),
/// so it is far smaller than either mean's own standard error. Pure: the device and the benchmark compute it the same way.
/// </summary>
public static class PairedLoss
{
    /// <summary>
    /// The standard error of mean(<paramref name="a"/> − <paramref name="b"/>), or null when it is undefined: fewer than
    /// two pairs, or a non-finite loss among them.
    /// </summary>
    /// <exception cref="ArgumentException">The two lists have different lengths (the losses are not paired).</exception>
    public static double? StandardError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Paired losses need the same samples: {a.Length} losses against {b.Length}.", nameof(b));
        var n = a.Length;
        if (n < 2) return null;
        // Two passes (mean, then squared deviations): exact enough for a few thousand losses, no cancellation.
        double sum = 0;
        for (var i = 0; i < n; i++) sum += a[i] - b[i];
        var mean = sum / n;
        if (!double.IsFinite(mean)) return null;
        double squares = 0;
        for (var i = 0; i < n; i++)
        {
            var d = a[i] - b[i] - mean;
            squares += d * d;
        }
        var se = Math.Sqrt(squares / (n - 1) / n);
        return double.IsFinite(se) ? se : null;
    }
}
