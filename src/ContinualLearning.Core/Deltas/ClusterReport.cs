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
/// <param name="StandardErrors">
/// Per cluster id, the standard error of the mean of the per-sample difference (that cluster's loss − the local
/// model's loss) on the same samples (<see cref="Training.PairedLoss"/>): how much of the local model's advantage
/// sampling noise can explain. Null or missing ids: not measured (an older device, or no local model).
/// </param>
public sealed record ClusterReport(int Cluster, IReadOnlyDictionary<int, double> Losses, double? LocalLoss, int Samples,
    IReadOnlyDictionary<int, double>? StandardErrors = null)
{
    /// <summary>Metric key of <see cref="Cluster"/>.</summary>
    public const string ClusterKey = "cluster.id";

    /// <summary>Metric key prefix of a cluster's loss: <c>cluster.loss.{id}</c>.</summary>
    public const string LossPrefix = "cluster.loss.";

    /// <summary>Metric key of <see cref="LocalLoss"/>.</summary>
    public const string LocalLossKey = "cluster.localLoss";

    /// <summary>Metric key prefix of a cluster's standard error (<see cref="StandardErrors"/>): <c>cluster.se.{id}</c>.</summary>
    public const string StandardErrorPrefix = "cluster.se.";

    /// <summary>Metric key of <see cref="Samples"/>.</summary>
    public const string SamplesKey = "cluster.samples";

    /// <summary>Adds the report's keys to a delta's metrics.</summary>
    public void WriteTo(IDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        metrics[ClusterKey] = Cluster;
        foreach (var (cluster, loss) in Losses) metrics[LossPrefix + cluster.ToString(CultureInfo.InvariantCulture)] = loss;
        if (LocalLoss is { } local) metrics[LocalLossKey] = local;
        foreach (var (cluster, se) in StandardErrors ?? new Dictionary<int, double>())
            metrics[StandardErrorPrefix + cluster.ToString(CultureInfo.InvariantCulture)] = se;
        metrics[SamplesKey] = Samples;
    }

    /// <summary>
    /// Reads a report from a delta's metrics. Returns null (error null) when the delta carries none; null with an error
    /// naming the bad key and value when the keys are there but malformed (non-integral or negative ids and counts,
    /// non-finite or negative losses). A malformed standard error is left out (see the overload's
    /// <c>ignored</c>); the report reads as one without it.
    /// </summary>
    public static ClusterReport? TryRead(IReadOnlyDictionary<string, double> metrics, out string? error) => TryRead(metrics, out error, out _);

    /// <summary>
    /// <see cref="TryRead(IReadOnlyDictionary{string, double}, out string?)"/>, and in <paramref name="ignored"/> why a
    /// <c>cluster.se.*</c> value was left out (a key that names no cluster id, a value not finite or negative), or null.
    /// The standard errors are optional evidence: without one, the aggregator judges that cluster as a report without
    /// them, so a bad one costs the report nothing else.
    /// </summary>
    public static ClusterReport? TryRead(IReadOnlyDictionary<string, double> metrics, out string? error, out string? ignored)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        error = null;
        ignored = null;
        if (!metrics.TryGetValue(ClusterKey, out var id)) return null;
        if (ClusterNames.FromNumber(id) is not { } trainedFrom)
            return Fail($"{ClusterKey} is {id}; it must be a cluster id 0–{ClusterNames.MaxCluster}.", out error);
        if (!metrics.TryGetValue(SamplesKey, out var samples) || !IsCount(samples, int.MaxValue))
            return Fail($"{SamplesKey} is {(metrics.ContainsKey(SamplesKey) ? samples.ToString(CultureInfo.InvariantCulture) : "missing")}; it must be a sample count.", out error);
        var losses = new SortedDictionary<int, double>();
        SortedDictionary<int, double>? errors = null;
        List<string>? skipped = null;
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
                if (ParseCluster(key, LossPrefix) is not { } cluster)
                    return Fail($"'{key}' does not name a cluster id 0–{ClusterNames.MaxCluster}.", out error);
                if (!IsLoss(value)) return Fail($"{key} is {value}; a loss must be finite and ≥ 0.", out error);
                losses[cluster] = value;
            }
            else if (key.StartsWith(StandardErrorPrefix, StringComparison.Ordinal))
            {
                if (ParseCluster(key, StandardErrorPrefix) is not { } cluster)
                    (skipped ??= []).Add($"'{key}' does not name a cluster id 0–{ClusterNames.MaxCluster}");
                else if (!IsLoss(value))
                    (skipped ??= []).Add($"{key} is {value.ToString(CultureInfo.InvariantCulture)}; a standard error must be finite and ≥ 0");
                else
                    (errors ??= [])[cluster] = value;
            }
        }
        if (skipped is not null)
            ignored = "Cluster report: left out " + string.Join("; ", skipped.Order(StringComparer.Ordinal)) + " (those clusters are judged without a standard error).";
        return new ClusterReport(trainedFrom, losses, local, (int)samples, errors);
    }

    private static int? ParseCluster(string key, string prefix) =>
        int.TryParse(key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var cluster) && cluster <= ClusterNames.MaxCluster ? cluster : null;

    private static bool IsCount(double value, int max) => value >= 0 && value <= max && value == Math.Floor(value);

    private static bool IsLoss(double value) => double.IsFinite(value) && value >= 0;

    private static ClusterReport? Fail(string message, out string? error)
    {
        error = "Cluster report: " + message;
        return null;
    }
}
