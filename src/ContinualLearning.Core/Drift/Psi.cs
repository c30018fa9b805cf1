namespace ContinualLearning.Drift;

/// <summary>How large a population stability index is, by the conventional credit-scoring cut-offs.</summary>
public enum PsiLevel
{
    /// <summary>PSI &lt; 0.1: no meaningful shift.</summary>
    Stable,
    /// <summary>0.1 ≤ PSI &lt; 0.25: moderate shift, worth watching.</summary>
    Moderate,
    /// <summary>PSI ≥ 0.25: significant shift.</summary>
    Significant,
}

/// <summary>
/// Population stability index: PSI = Σ_b (c_b − r_b)·ln(c_b / r_b) over bins b, where r_b and c_b
/// are the fractions of the reference and current samples in bin b. Bins are the reference's
/// quantiles, so each holds about the same share of the reference; a bin that is empty on either
/// side gets <c>epsilon</c> instead of 0 so the logarithm stays finite.
/// </summary>
public static class Psi
{
    /// <summary>Conventional "moderate shift" threshold.</summary>
    public const double ModerateThreshold = 0.1;

    /// <summary>Conventional "significant shift" threshold.</summary>
    public const double SignificantThreshold = 0.25;

    /// <summary>Computes the PSI of <paramref name="current"/> against <paramref name="reference"/>.</summary>
    /// <param name="reference">Sample of the baseline distribution; defines the bins.</param>
    /// <param name="current">Sample to compare with the baseline.</param>
    /// <param name="bins">Number of quantile bins (10 is conventional). Tied reference values can merge bins, so fewer may be used.</param>
    /// <param name="epsilon">Fraction used for an empty bin.</param>
    public static double Compute(ReadOnlySpan<double> reference, ReadOnlySpan<double> current, int bins = 10, double epsilon = 1e-4)
    {
        if (reference.IsEmpty || current.IsEmpty)
        {
            throw new ArgumentException($"PSI needs non-empty samples (reference has {reference.Length}, current has {current.Length} values).");
        }
        if (bins < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(bins), bins, "PSI needs at least 2 bins.");
        }
        if (!(epsilon > 0 && epsilon < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "PSI epsilon must be in (0, 1), e.g. 1e-4.");
        }
        var edges = QuantileEdges(reference, bins);
        var refCounts = Histogram(reference, edges);
        var curCounts = Histogram(current, edges);
        var psi = 0.0;
        for (var b = 0; b < refCounts.Length; b++)
        {
            var r = Math.Max((double)refCounts[b] / reference.Length, epsilon);
            var c = Math.Max((double)curCounts[b] / current.Length, epsilon);
            psi += (c - r) * Math.Log(c / r);
        }
        return psi;
    }

    /// <summary>Maps a PSI value to the conventional levels (0.1 / 0.25).</summary>
    public static PsiLevel Classify(double psi) => psi switch
    {
        < ModerateThreshold => PsiLevel.Stable,
        < SignificantThreshold => PsiLevel.Moderate,
        _ => PsiLevel.Significant,
    };

    /// <summary>Interior bin edges: the reference's j/bins quantiles (linear interpolation, numpy's default), duplicates removed.</summary>
    internal static double[] QuantileEdges(ReadOnlySpan<double> reference, int bins)
    {
        var sorted = reference.ToArray();
        Array.Sort(sorted);
        var edges = new List<double>(bins - 1);
        for (var j = 1; j < bins; j++)
        {
            var q = Quantile(sorted, (double)j / bins);
            if (edges.Count == 0 || q > edges[^1])
            {
                edges.Add(q);
            }
        }
        return [.. edges];
    }

    internal static double Quantile(double[] sorted, double q)
    {
        var pos = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    // Bin b holds values in (edge[b-1], edge[b]]; values above the last edge go to the last bin.
    private static int[] Histogram(ReadOnlySpan<double> values, double[] edges)
    {
        var counts = new int[edges.Length + 1];
        foreach (var v in values)
        {
            if (double.IsNaN(v))
            {
                throw new ArgumentException("PSI input contains NaN; drop or impute missing values before monitoring.");
            }
            var i = Array.BinarySearch(edges, v);
            var bin = i >= 0 ? i : ~i; // an exact edge value belongs to the bin it closes
            counts[bin]++;
        }
        return counts;
    }
}
