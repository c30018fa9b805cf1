using System.Text.Json.Serialization;

namespace ContinualLearning.Bundle;

// The on-disk shape of manifest.json. Everything is nullable so a missing field reaches validation
// (which names it) instead of silently defaulting; enums are strings so an unknown value gets a message
// listing the allowed ones.

internal sealed class ManifestDocument
{
    public int? FormatVersion { get; set; }
    public string? Name { get; set; }
    public string? Version { get; set; }
    public string? ParentVersion { get; set; }
    public DateTime? CreatedUtc { get; set; }
    public InputSchemaDocument? InputSchema { get; set; }
    public TaskDocument? Task { get; set; }
    public HeadDocument? Head { get; set; }
    public TrainingDocument? Training { get; set; }
    public SortedDictionary<string, string>? Files { get; set; }
    public string? Signature { get; set; }
}

internal sealed class InputSchemaDocument
{
    // Written only for non-feature models, so feature manifests (and their signatures) stay byte-for-byte the same.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Kind { get; set; }

    public List<FeatureDocument?>? Features { get; set; }
    public int? EmbeddingSize { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AudioDocument? Audio { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<StageDocument?>? Stages { get; set; }
}

internal sealed class AudioDocument
{
    public int? SampleRate { get; set; }
    public int? MinSamples { get; set; }
    public int? MaxSamples { get; set; }
}

// One flat shape for every op: each op reads its own fields, and a field of another op is an error naming it.
internal sealed class StageDocument
{
    public string? Op { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? File { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public float? Scale { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public float? Offset { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Size { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Stride { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Mode { get; set; }
}

internal sealed class FeatureDocument
{
    public string? Name { get; set; }
    public float? Mean { get; set; }
    public float? Std { get; set; }
}

internal sealed class TaskDocument
{
    public string? Kind { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string?>? LabelNames { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string?>? OutputNames { get; set; }
}

internal sealed class HeadDocument
{
    public List<int>? LayerSizes { get; set; }
    public string? HiddenActivation { get; set; }
    public string? Loss { get; set; }
}

internal sealed class TrainingDocument
{
    public string? Optimizer { get; set; }
    public float? LearningRate { get; set; }
    public float? Momentum { get; set; }
    public float? WeightDecay { get; set; }
    public float? Beta1 { get; set; }
    public float? Beta2 { get; set; }
    public float? Epsilon { get; set; }
    public int? BatchSize { get; set; }
}

/// <summary>
/// Source-generated (reflection-free, trim-safe) serializer for manifest.json. Unknown properties are errors
/// (a typo like "learningrate" must not silently fall back to a default), as are duplicate properties
/// (two "files" entries with different hashes must not let the later one win unnoticed).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    AllowDuplicateProperties = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    WriteIndented = false)]
[JsonSerializable(typeof(ManifestDocument))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
