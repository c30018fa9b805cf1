using System.Globalization;

namespace ContinualLearning.Deltas;

/// <summary>
/// What a device under concept-aware aggregation measured before sending a delta (IFCA / FedDrift's signal): the loss of
/// every live cluster's model on its newest labelled samples, and of its own locally trained model on the same samples
/// (trained on older ones). It travels in the delta header's metrics (<see cref="DeltaHeader.Metrics"/>) under the
/// <c>cluster.*</c> keys, so the delta format is unchanged and an aggregator without clustering ignores it.
/// </summary>
/// <param name="Cluster">The cluster the device served and trained from; its delta is relative to that cluster's model.</param>
/// <param name="Losses">Mean loss (nats) per cluster id it scored.</param>
/// <param name="LocalLoss">Mean loss of its own model on the same samples, or null.</param>
/// <param name="Samples">How many labelled samples the losses were measured on.</param>
public sealed record ClusterReport(int Cluster, IReadOnlyDictionary<int, double> Losses, double? LocalLoss, int Samples)
{
    /// <summary>Metric key of <see cref="Cluster"/>.</summary>
    public const string ClusterKey = "cluster.id";

    /// <summary>Metric key prefix of a cluster's loss: <c>cluster.loss.{id}</c>.</summary>
    public const string LossPrefix = "cluster.loss.";

    /// <summary>Metric key of <see cref="LocalLoss"/>.</summary>
    public const string LocalLossKey = "cluster.localLoss";

    /// <summary>Metric key of <see cref="Samples"/>.</summary>
    public const string SamplesKey = "cluster.samples";

    /// <summary>Adds the report's keys to a delta's metrics.</summary>
    public void WriteTo(IDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        metrics[ClusterKey] = Cluster;
        foreach (var (cluster, loss) in Losses) metrics[LossPrefix + cluster.ToString(CultureInfo.InvariantCulture)] = loss;
        if (LocalLoss is { } local) metrics[LocalLossKey] = local;
        metrics[SamplesKey] = Samples;
    }

    /// <summary>
    /// Reads a report from a delta's metrics. Returns null (error null) when the delta carries none; null with an error
    /// naming the bad key and value when the keys are there but malformed (non-integral or negative ids and counts,
    /// non-finite or negative losses).
    /// </summary>
    public static ClusterReport? TryRead(IReadOnlyDictionary<string, double> metrics, out string? error)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        error = null;
        if (!metrics.TryGetValue(ClusterKey, out var id)) return null;
        if (ClusterNames.FromNumber(id) is not { } trainedFrom)
            return Fail($"{ClusterKey} is {id}; it must be a cluster id 0–{ClusterNames.MaxCluster}.", out error);
        if (!metrics.TryGetValue(SamplesKey, out var samples) || !IsCount(samples, int.MaxValue))
            return Fail($"{SamplesKey} is {(metrics.ContainsKey(SamplesKey) ? samples.ToString(CultureInfo.InvariantCulture) : "missing")}; it must be a sample count.", out error);
        var losses = new SortedDictionary<int, double>();
        double? local = null;
        foreach (var (key, value) in metrics)
        {
            if (key == LocalLossKey)
            {
                if (!IsLoss(value)) return Fail($"{LocalLossKey} is {value}; a loss must be finite and ≥ 0.", out error);
                local = value;
            }
            else if (key.StartsWith(LossPrefix, StringComparison.Ordinal))
            {
                if (!int.TryParse(key.AsSpan(LossPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var cluster) || cluster > ClusterNames.MaxCluster)
                    return Fail($"'{key}' does not name a cluster id 0–{ClusterNames.MaxCluster}.", out error);
                if (!IsLoss(value)) return Fail($"{key} is {value}; a loss must be finite and ≥ 0.", out error);
                losses[cluster] = value;
            }
        }
        return new ClusterReport(trainedFrom, losses, local, (int)samples);
    }

    private static bool IsCount(double value, int max) => value >= 0 && value <= max && value == Math.Floor(value);

    private static bool IsLoss(double value) => double.IsFinite(value) && value >= 0;

    private static ClusterReport? Fail(string message, out string? error)
    {
        error = "Cluster report: " + message;
        return null;
    }
}
