using System.Globalization;
using ContinualLearning.Audio;
using ContinualLearning.Learning;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// What the installed model reads (manifest <c>inputSchema</c>): JSON features, or WAV clips in <see cref="Audio"/>'s
/// format. The HTTP API and the samples topic check a payload against it before anything reaches the learner, so a
/// clip never reaches a feature model and a feature array is never taken for PCM.
/// </summary>
internal sealed record ModelInput(InputKind Kind, AudioInputSpec? Audio)
{
    /// <summary>The media types accepted for a WAV body (HTTP <c>Content-Type</c>, MQTT 5 content type).</summary>
    public static IReadOnlyList<string> WavMediaTypes { get; } = ["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"];

    /// <summary>A feature model's input.</summary>
    public static ModelInput Features { get; } = new(InputKind.Features, null);

    /// <summary>What <paramref name="learner"/>'s champion reads.</summary>
    public static ModelInput Of(ContinualLearner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var kind = learner.InputKind;
        return kind == InputKind.Features ? Features : new ModelInput(kind, learner.AudioInput);
    }

    /// <summary>The audio spec of an audio model.</summary>
    public AudioInputSpec RequireAudio() => Audio ?? throw new InvalidOperationException("This model does not take audio.");

    /// <summary>What this model takes, in words, for a 415 (e.g. <c>audio/wav (PCM16 mono 16,000 Hz, at most 10 s (160,000 samples))</c>).</summary>
    public string Describe() => Kind switch
    {
        InputKind.Audio => string.Create(CultureInfo.InvariantCulture, $"audio/wav ({WavReader.Describe(RequireAudio())}, at most {WavReader.DescribeLimit(RequireAudio())})"),
        InputKind.Features => "JSON features (Content-Type: application/json, {\"features\": [...]})",
        _ => Kind.ToString(),
    };

    /// <summary>True for a WAV media type (parameters such as <c>; codecs=1</c> ignored, case-insensitive).</summary>
    public static bool IsWav(string? contentType) => MediaType(contentType) is { } type && WavMediaTypes.Contains(type, StringComparer.OrdinalIgnoreCase);

    /// <summary>True for any <c>audio/*</c> media type.</summary>
    public static bool IsAudio(string? contentType) => MediaType(contentType)?.StartsWith("audio/", StringComparison.OrdinalIgnoreCase) == true;

    private static string? MediaType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return null;
        var end = contentType.IndexOf(';', StringComparison.Ordinal);
        return (end < 0 ? contentType : contentType[..end]).Trim();
    }
}
