using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Validation;

/// <summary>The validator's questions answered from the registry, for one served model and its head.</summary>
internal sealed class RegistryValidationContext(ModelRegistry registry, string modelName, HeadSpec head) : IDeltaValidationContext
{
    public string ModelName => modelName;

    public HeadSpec Head => head;

    public int? ReleasesSince(string baseVersion) => registry.ReleasesSince(modelName, baseVersion);

    public bool IsRolledBack(string baseVersion) => registry.GetVersion(modelName, baseVersion)?.Status == VersionStatus.RolledBack;

    public bool IsSeen(Guid deltaId) => registry.Deltas.IsSeen(deltaId.ToString("D"));

    public DateTimeOffset Now => registry.Time.GetUtcNow();
}
