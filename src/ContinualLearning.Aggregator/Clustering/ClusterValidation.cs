using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;

namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// The validator's answers with clustering on: a delta is for one live cluster model of the base model (its header's
/// model name), and each cluster model answers for its own versions. A delta for a retired cluster, or for a cluster
/// this base never had, is refused with the reason. Immutable: the fleet swaps in a new one when the clusters change.
/// </summary>
internal sealed class ClusterValidation(string baseModel, IReadOnlyDictionary<string, RegistryValidationContext> live, IReadOnlyList<ClusterRecord> retired)
    : IDeltaValidationContext
{
    private readonly IReadOnlyDictionary<string, RegistryValidationContext> _live = live;
    private readonly RegistryValidationContext _base = live[baseModel];

    public string ModelName => baseModel;

    public DateTimeOffset Now => _base.Now;

    public IDeltaValidationContext? Route(string modelName, out RejectionReason reason, out string refusal) => Route(modelName, _live, out reason, out refusal);

    // The base model's answers, for callers that ask without routing; the validator always routes first.
    public OutputLayout? Layout(string version) => _base.Layout(version);

    public int? ReleasesSince(string baseVersion) => _base.ReleasesSince(baseVersion);

    public bool IsRolledBack(string baseVersion) => _base.IsRolledBack(baseVersion);

    public bool IsSeen(Guid deltaId) => _base.IsSeen(deltaId);

    /// <summary>The answers for one batch: each cluster model's base versions looked up once (<see cref="RegistryValidationContext.Snapshot"/>).</summary>
    public IDeltaValidationContext Snapshot() => new BatchSnapshot(this);

    private IDeltaValidationContext? Route<T>(string modelName, IReadOnlyDictionary<string, T> contexts, out RejectionReason reason, out string refusal)
        where T : IDeltaValidationContext
    {
        reason = RejectionReason.UnknownModel;
        refusal = "";
        if (contexts.TryGetValue(modelName, out var context)) return context;
        var liveNames = string.Join(", ", _live.Keys.Order(StringComparer.Ordinal));
        var (parsedBase, cluster) = ClusterNames.Parse(modelName);
        if (retired.FirstOrDefault(r => r.ModelName == modelName) is { } gone)
        {
            reason = RejectionReason.RetiredCluster;
            refusal = $"is cluster {gone.Cluster} of '{baseModel}', retired at {gone.Retired:O}{(gone.MergedInto is { } into ? $" (merged into cluster {into})" : "")}; "
                + $"the device should follow the cluster directory (live cluster models: {liveNames})";
        }
        else if (parsedBase == baseModel && cluster != 0)
        {
            refusal = $"is not a cluster of '{baseModel}' (live cluster models: {liveNames}); the device should follow the cluster directory";
        }
        else
        {
            refusal = $"is not served by this aggregator (it serves '{baseModel}' and its cluster models: {liveNames})";
        }
        return null;
    }

    private sealed class BatchSnapshot(ClusterValidation clusters) : IDeltaValidationContext
    {
        private readonly Dictionary<string, IDeltaValidationContext> _snapshots = clusters._live.ToDictionary(p => p.Key, p => p.Value.Snapshot(), StringComparer.Ordinal);

        public string ModelName => clusters.ModelName;

        public DateTimeOffset Now { get; } = clusters.Now;

        public IDeltaValidationContext? Route(string modelName, out RejectionReason reason, out string refusal) =>
            clusters.Route(modelName, _snapshots, out reason, out refusal);

        public OutputLayout? Layout(string version) => _snapshots[ModelName].Layout(version);

        public int? ReleasesSince(string baseVersion) => _snapshots[ModelName].ReleasesSince(baseVersion);

        public bool IsRolledBack(string baseVersion) => _snapshots[ModelName].IsRolledBack(baseVersion);

        public bool IsSeen(Guid deltaId) => false;
    }
}
