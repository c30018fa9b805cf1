using ContinualLearning.Audio;
using ContinualLearning.Pipelines;
using ContinualLearning.Text;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// WAV clips on <c>/predict</c>, <c>/label</c> and the samples topic. A body is checked against the installed model's
/// <see cref="ModelInput"/> and parsed by <see cref="WavReader"/> in memory; the PCM goes straight to the learner, which
/// keeps only the clip's embedding (the head input): no audio is written anywhere (docs/device.md, "Privacy").
/// Every refusal is a <see cref="SampleRequestException"/>: 415 for a well-formed payload the model does not take,
/// 400 for a broken, empty or over-long one, 503 without a model.
/// </summary>
internal static class AudioSample
{
    /// <summary>The MQTT 5 user property that carries a clip's label on the samples topic (the HTTP API's <c>?label=</c>).</summary>
    public const string LabelProperty = "label";

    /// <summary>The PCM (int16-scale floats) of a WAV body for the installed model.</summary>
    /// <exception cref="SampleRequestException">No model (503), not WAV or not an audio model (415), a bad WAV (400/415).</exception>
    public static float[] Read(ReadOnlySpan<byte> body, string? contentType, DeviceRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var input = runtime.Input ?? throw new SampleRequestException(new NoModelException().Message, null, null, 503);
        if (!ModelInput.IsWav(contentType))
            throw new SampleRequestException($"Content type '{DisplayText.Truncate(contentType)}' is not accepted; this model takes {input.Describe()}.", "contentType", contentType, 415);
        if (input.Kind != InputKind.Audio)
            throw new SampleRequestException($"A WAV body was sent, but this model takes {input.Describe()}.", "contentType", contentType, 415);
        try
        {
            return WavReader.ReadPcm16Mono(body, input.RequireAudio());
        }
        catch (WavFormatException ex)
        {
            throw new SampleRequestException(ex.Message, ex.Field, ex.Value, ex.IsUnsupportedMedia ? 415 : 400);
        }
    }

    /// <summary>Refuses a JSON feature sample when the installed model takes audio (415): its numbers must never be taken for PCM.</summary>
    public static void RequireFeatures(DeviceRuntime runtime, string? contentType)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (runtime.Input is { Kind: not InputKind.Features } input)
            throw new SampleRequestException($"A JSON feature sample was sent, but this model takes {input.Describe()}.", "contentType", contentType ?? "application/json", 415);
    }

    /// <summary>A label given beside a clip (query or user property): a non-blank name.</summary>
    public static string RequireLabel(string? label, string where) =>
        string.IsNullOrWhiteSpace(label)
            ? throw new SampleRequestException($"A labelled clip needs its label name {where}.", "label", label)
            : label;

    /// <summary>
    /// A clip from the samples topic: with a <see cref="LabelProperty"/> it is a labelled sample, without one it is
    /// predicted (and its prediction logged for a later label), as a JSON sample with or without "label".
    /// </summary>
    /// <exception cref="SampleRequestException">The clip or its label was refused; nothing was stored.</exception>
    public static void Apply(ReadOnlySpan<byte> payload, string? contentType, string? label, DeviceRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (label is not null) label = RequireLabel(label, $"in the MQTT user property '{LabelProperty}'");
        var pcm = Read(payload, contentType, runtime);
        SampleRequest.Guard(() =>
        {
            if (label is null) runtime.Predict(pcm);
            else runtime.AddLabelled(pcm, label);
        });
    }
}
