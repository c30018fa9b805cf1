namespace ContinualLearning.Aggregator.Strategies;

/// <summary>How buffered deltas are combined into one global update.</summary>
public enum StrategyKind
{
    /// <summary>Weighted mean (McMahan et al. 2017).</summary>
    FedAvg,

    /// <summary>Coordinate-wise trimmed mean: drop the β fraction of smallest and largest values per coordinate (Yin et al. 2018).</summary>
    TrimmedMean,

    /// <summary>Coordinate-wise weighted median (Yin et al. 2018).</summary>
    Median,

    /// <summary>Clip each delta to L2 norm C, then weighted mean (Sun et al. 2019, "Can you really backdoor FL?").</summary>
    NormClip,
}

/// <summary>One flattened delta (state_dict order) with its aggregation weight (samples × staleness discount).</summary>
public readonly record struct WeightedUpdate(float[] Values, double Weight);

/// <summary>Parameters of the strategies that have any.</summary>
public sealed record StrategyOptions
{
    /// <summary>Trimmed mean: fraction β in [0, 0.5) of values dropped on each side of every coordinate.</summary>
    public double TrimFraction { get; init; } = 0.2;

    /// <summary>Norm clipping: L2 bound C each delta is scaled down to.</summary>
    public double ClipNorm { get; init; } = 1.0;
}

/// <summary>
/// The aggregation rules as pure functions over flattened deltas: no state, no I/O, so they can be property-tested
/// (identical inputs give that input back; the order of the inputs does not matter; the robust ones resist a
/// minority of sign-flipped or scaled deltas). Sums are accumulated in double so results do not depend on order
/// beyond float rounding of the final value.
/// </summary>
public static class AggregationStrategies
{
    public static float[] Aggregate(StrategyKind kind, IReadOnlyList<WeightedUpdate> updates, StrategyOptions? options = null)
    {
        options ??= new StrategyOptions();
        return kind switch
        {
            StrategyKind.FedAvg => FedAvg(updates),
            StrategyKind.TrimmedMean => TrimmedMean(updates, options.TrimFraction),
            StrategyKind.Median => Median(updates),
            StrategyKind.NormClip => NormClipped(updates, options.ClipNorm),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown aggregation strategy; use fedavg, trimmed-mean, median or norm-clip."),
        };
    }

    /// <summary>Σ wᵢ·dᵢ / Σ wᵢ.</summary>
    public static float[] FedAvg(IReadOnlyList<WeightedUpdate> updates)
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

    /// <summary>
    /// Per coordinate: sort the values, drop ⌊β·m⌋ from each end (m = number of deltas), weighted mean of the rest.
    /// With β = 0 this is FedAvg; it tolerates up to ⌊β·m⌋ arbitrary deltas per coordinate.
    /// </summary>
    public static float[] TrimmedMean(IReadOnlyList<WeightedUpdate> updates, double trimFraction)
    {
        var n = Check(updates);
        if (!(trimFraction >= 0 && trimFraction < 0.5))
            throw new ArgumentOutOfRangeException(nameof(trimFraction), trimFraction, "Trim fraction β must be in [0, 0.5): the fraction of values dropped on each side.");
        var m = updates.Count;
        var k = (int)Math.Floor(trimFraction * m);
        var column = new (float Value, double Weight)[m];
        var result = new float[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < m; j++) column[j] = (updates[j].Values[i], updates[j].Weight);
            Array.Sort(column, CompareByValueThenWeight);
            double sum = 0, total = 0;
            for (var j = k; j < m - k; j++)
            {
                sum += column[j].Weight * column[j].Value;
                total += column[j].Weight;
            }
            result[i] = (float)(sum / total);
        }
        return result;
    }

    /// <summary>
    /// Per coordinate: the weighted median (the value where the cumulative weight reaches half the total; the mean of
    /// the two middle values when it lands exactly on half, so the result does not depend on tie order).
    /// </summary>
    public static float[] Median(IReadOnlyList<WeightedUpdate> updates)
    {
        var n = Check(updates);
        var m = updates.Count;
        var column = new (float Value, double Weight)[m];
        double total = 0;
        foreach (var u in updates) total += u.Weight;
        var half = total / 2;
        var result = new float[n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < m; j++) column[j] = (updates[j].Values[i], updates[j].Weight);
            Array.Sort(column, CompareByValueThenWeight);
            double cumulative = 0;
            for (var j = 0; j < m; j++)
            {
                cumulative += column[j].Weight;
                // Relative tolerance: weights are sums of doubles, an exact half can miss by one ulp.
                if (Math.Abs(cumulative - half) <= 1e-12 * total && j + 1 < m)
                {
                    result[i] = (float)((column[j].Value + (double)column[j + 1].Value) / 2);
                    break;
                }
                if (cumulative > half)
                {
                    result[i] = column[j].Value;
                    break;
                }
            }
        }
        return result;
    }

    /// <summary>Scales every delta whose L2 norm exceeds <paramref name="clipNorm"/> down to it, then FedAvg.</summary>
    public static float[] NormClipped(IReadOnlyList<WeightedUpdate> updates, double clipNorm)
    {
        Check(updates);
        return FedAvg(updates.Select(u => u with { Values = ClipToNorm(u.Values, clipNorm) }).ToArray());
    }

    /// <summary>The vector scaled to L2 norm <paramref name="clipNorm"/> when it is longer; otherwise the same array.</summary>
    public static float[] ClipToNorm(float[] values, double clipNorm)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (!(clipNorm > 0) || !double.IsFinite(clipNorm))
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "The clip norm C must be a finite number > 0.");
        var norm = L2Norm(values);
        if (norm <= clipNorm) return values;
        var scale = clipNorm / norm;
        var clipped = new float[values.Length];
        for (var i = 0; i < values.Length; i++) clipped[i] = (float)(values[i] * scale);
        return clipped;
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

    private static int CompareByValueThenWeight((float Value, double Weight) a, (float Value, double Weight) b)
    {
        var c = a.Value.CompareTo(b.Value);
        return c != 0 ? c : a.Weight.CompareTo(b.Weight);
    }

    private static int Check(IReadOnlyList<WeightedUpdate> updates)
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
