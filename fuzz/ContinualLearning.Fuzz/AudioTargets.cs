using ContinualLearning.Audio;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Fuzz;

/// <summary>The WAV bodies of <c>/predict</c>, <c>/label</c> and the samples topic (audio models).</summary>
internal static class AudioTargets
{
    // Short clips keep the over-long path reachable from small inputs; the default spec is the one models use.
    private static readonly AudioInputSpec[] Specs = [new AudioInputSpec(16_000, 16_000, 64), new AudioInputSpec()];

    /// <summary>
    /// RIFF/WAVE through <see cref="WavReader"/>, strict and streamed. Whatever it accepts must be what the header
    /// promised: between one sample and the spec's maximum, never more samples than the payload has bytes for, and
    /// written back by <see cref="WavWriter"/> it must read back sample for sample.
    /// </summary>
    public static void Wav(byte[] input)
    {
        foreach (var spec in Specs)
        {
            Read(input, spec, () => (WavReader.ReadPcm16Mono(input, spec), spec.SampleRate));
            Read(input, spec, () => WavReader.ReadStreamedPcm16Mono(input, spec.MaxSamples));
        }
    }

    private static void Read(byte[] input, AudioInputSpec spec, Func<(float[] Samples, int SampleRate)> read)
    {
        float[] samples;
        int rate;
        try
        {
            (samples, rate) = read();
        }
        catch (WavFormatException ex)
        {
            if (string.IsNullOrEmpty(ex.Message) || ex.Field is null)
                throw new InvalidOperationException($"Fuzz invariant: a WAV refusal ({ex.Error}) without a message or field.", ex);
            return;
        }
        Check(input, spec with { SampleRate = rate }, samples);
    }

    private static void Check(byte[] input, AudioInputSpec spec, float[] samples)
    {
        if (samples.Length < 1 || samples.Length > spec.MaxSamples || samples.Length * 2L > input.Length - WavWriter.HeaderBytes)
            throw new InvalidOperationException($"Fuzz invariant: {samples.Length} samples from a {input.Length}-byte WAV (max {spec.MaxSamples}).");
        var pcm = new short[samples.Length];
        for (var i = 0; i < pcm.Length; i++)
        {
            if (samples[i] != MathF.Round(samples[i]) || samples[i] < short.MinValue || samples[i] > short.MaxValue)
                throw new InvalidOperationException($"Fuzz invariant: sample {i} = {samples[i]} is not an int16 value.");
            pcm[i] = (short)samples[i];
        }
        var again = WavReader.ReadPcm16Mono(WavWriter.Pcm16Mono(pcm, spec.SampleRate), spec);
        if (!again.AsSpan().SequenceEqual(samples))
            throw new InvalidOperationException("Fuzz invariant: a WAV written back from its samples reads differently.");
    }
}
