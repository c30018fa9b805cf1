namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Maths the strategies share (Flower's <c>aggregate.py</c>). Sums are accumulated in double so results do not
/// depend on order beyond float rounding of the final value.
/// </summary>
internal static class AggregationMath
{
    /// <summary>Σ wᵢ·dᵢ / Σ wᵢ.</summary>
    public static float[] WeightedMean(IReadOnlyList<WeightedUpdate> updates)
    {
        var n = Check(updates);
        var sum = new double[n];
        double total = 0;
        foreach (var u in updates)
        {
            total += u.Weight;
            for (var i = 0; i < n; i++) sum[i] += u.Weight * u.Values[i];
        }
        var result = new float[n];
        for (var i = 0; i < n; i++) result[i] = (float)(sum[i] / total);
        return result;
    }

    /// <summary>The vector scaled to L2 norm <paramref name="clipNorm"/> when it is longer; otherwise the same array.</summary>
    public static float[] ClipToNorm(float[] values, double clipNorm)
    {
        ArgumentNullException.ThrowIfNull(values);
        RequireClipNorm(clipNorm);
        var norm = L2Norm(values);
        if (norm <= clipNorm) return values;
        var scale = clipNorm / norm;
        var clipped = new float[values.Length];
        for (var i = 0; i < values.Length; i++) clipped[i] = (float)(values[i] * scale);
        return clipped;
    }

    public static void RequireClipNorm(double clipNorm)
    {
        if (!(clipNorm > 0) || !double.IsFinite(clipNorm))
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "The clip norm C must be a finite number > 0.");
    }

    public static double L2Norm(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (var v in values) sum += (double)v * v;
        return Math.Sqrt(sum);
    }

    /// <summary>FedBuff's staleness discount: 1 / (1 + s)^α.</summary>
    public static double StalenessDiscount(int staleness, double alpha)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(staleness);
        return 1.0 / Math.Pow(1 + staleness, alpha);
    }

    /// <summary>The common vector length; throws when the list is empty, lengths differ or a weight is not finite and positive.</summary>
    public static int Check(IReadOnlyList<WeightedUpdate> updates)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0) throw new ArgumentException("Nothing to aggregate: the update list is empty.", nameof(updates));
        var n = updates[0].Values.Length;
        for (var j = 0; j < updates.Count; j++)
        {
            if (updates[j].Values.Length != n)
                throw new ArgumentException($"Update {j} has {updates[j].Values.Length} values; update 0 has {n}. All deltas must flatten the same head.", nameof(updates));
            if (!(updates[j].Weight > 0) || !double.IsFinite(updates[j].Weight))
                throw new ArgumentException($"Update {j} has weight {updates[j].Weight}; weights must be finite and > 0.", nameof(updates));
        }
        return n;
    }
}
