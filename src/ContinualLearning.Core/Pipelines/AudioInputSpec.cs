using System.Globalization;

namespace ContinualLearning.Pipelines;

/// <summary>
/// The audio a model accepts (manifest <c>inputSchema.audio</c>): PCM16 mono at <see cref="SampleRate"/>. Clips shorter
/// than <see cref="MinSamples"/> are zero-padded at the end (the first window needs that many samples); clips longer
/// than <see cref="MaxSamples"/> are refused (bounded work and memory per request).
/// </summary>
public sealed record AudioInputSpec(int SampleRate = 16_000, int MinSamples = 16_000, int MaxSamples = 160_000)
{
    /// <summary>How long <paramref name="samples"/> last at <see cref="SampleRate"/>, in seconds as messages print it ("0.5", "10").</summary>
    public string Seconds(int samples) => ((double)samples / SampleRate).ToString("0.###", CultureInfo.InvariantCulture);
}
