using System.Globalization;

namespace ContinualLearning.Deltas;

/// <summary>
/// Names of the cluster models of concept-aware aggregation. Each cluster of model <c>m</c> is a registry model of its
/// own, so releases, signing, canary, rollback and lineage work per cluster unchanged: cluster 0 is <c>m</c> itself
/// (clustering off = one cluster = the model as it always was), cluster k ≥ 1 is <c>m.c{k}</c>.
/// </summary>
public static class ClusterNames
{
    /// <summary>Highest cluster id a name may carry (far above any sensible <c>maxClusters</c>).</summary>
    public const int MaxCluster = 9999;

    /// <summary>The registry model name of cluster <paramref name="cluster"/> of <paramref name="baseModel"/>.</summary>
    public static string ModelName(string baseModel, int cluster)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseModel);
        ArgumentOutOfRangeException.ThrowIfNegative(cluster);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cluster, MaxCluster);
        return cluster == 0 ? baseModel : $"{baseModel}.c{cluster.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// Splits a cluster model name into its base model and cluster id ("m.c3" → ("m", 3)); a name without the suffix is
    /// cluster 0 of itself.
    /// </summary>
    public static (string BaseModel, int Cluster) Parse(string modelName)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        var dot = modelName.LastIndexOf(".c", StringComparison.Ordinal);
        if (dot <= 0) return (modelName, 0);
        var digits = modelName.AsSpan(dot + 2);
        if (digits.Length is 0 or > 4 || digits[0] == '0') return (modelName, 0);
        foreach (var c in digits)
            if (c is < '0' or > '9') return (modelName, 0);
        return (modelName[..dot], int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// A cluster id carried as a number (delta metrics, telemetry extras): an integer 0–<see cref="MaxCluster"/>, else
    /// null (negative, fractional, too large or not finite).
    /// </summary>
    public static int? FromNumber(double value) =>
        value >= 0 && value <= MaxCluster && value == Math.Floor(value) ? (int)value : null;

    /// <summary>True when <paramref name="modelName"/> has a cluster suffix (so a user must not name a base model so).</summary>
    public static bool IsClusterModel(string modelName) => Parse(modelName).Cluster != 0;
}
