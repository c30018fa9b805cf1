using System.Text.Json.Serialization;

namespace ContinualLearning.Learning;

/// <summary>The CURRENT pointer file: which version directories hold the champion, the previous champion and the base.</summary>
internal sealed class CheckpointPointerDocument
{
    public int FormatVersion { get; set; } = 1;

    public string? Champion { get; set; }

    public string? Previous { get; set; }

    public string? Base { get; set; }

    public long LocalCounter { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CheckpointPointerDocument))]
[JsonSerializable(typeof(PromotionDecision))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;
