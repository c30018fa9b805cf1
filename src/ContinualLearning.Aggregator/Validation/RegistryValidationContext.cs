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
}
