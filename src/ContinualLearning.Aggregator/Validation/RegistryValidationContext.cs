using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Validation;

/// <summary>The validator's questions answered from the registry, for one served model.</summary>
internal sealed class RegistryValidationContext(ModelRegistry registry, string modelName, ReleaseLayouts layouts) : IDeltaValidationContext
{
    public string ModelName => modelName;

    public OutputLayout? Layout(string version) => layouts.Of(version);

    public int? ReleasesSince(string baseVersion) => registry.ReleasesSince(modelName, baseVersion);

    public bool IsRolledBack(string baseVersion) => registry.GetVersion(modelName, baseVersion)?.Status == VersionStatus.RolledBack;

    public bool IsSeen(Guid deltaId) => registry.Deltas.IsSeen(deltaId.ToString("D"));

    public DateTimeOffset Now => registry.Time.GetUtcNow();

    /// <summary>
    /// The answers for one batch of deltas: each base version is looked up once, whatever the number of deltas naming it,
    /// and the duplicate check is left to the ledger's insert, which makes it atomically anyway (<see cref="PendingAdmission"/>).
    /// A release or rollback that lands while the batch is validated is seen by the next batch; the aggregation round
    /// checks staleness and rolled-back bases again before it uses a delta.
    /// </summary>
    public IDeltaValidationContext Snapshot() => new BatchSnapshot(this);

    private sealed class BatchSnapshot(RegistryValidationContext registry) : IDeltaValidationContext
    {
        private readonly Dictionary<string, (int? ReleasesSince, bool RolledBack)> _bases = new(StringComparer.Ordinal);

        public string ModelName => registry.ModelName;

        public DateTimeOffset Now { get; } = registry.Now;

        public OutputLayout? Layout(string version) => registry.Layout(version);

        public int? ReleasesSince(string baseVersion) => Base(baseVersion).ReleasesSince;

        public bool IsRolledBack(string baseVersion) => Base(baseVersion).RolledBack;

        public bool IsSeen(Guid deltaId) => false;

        private (int? ReleasesSince, bool RolledBack) Base(string version)
        {
            if (!_bases.TryGetValue(version, out var known))
            {
                var since = registry.ReleasesSince(version);
                _bases[version] = known = (since, since is not null && registry.IsRolledBack(version));
            }
            return known;
        }
    }
}
