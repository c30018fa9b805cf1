using System.Buffers.Binary;

namespace ContinualLearning.Audio;

/// <summary>
/// Writes the canonical 44-byte-header PCM16 mono WAV that <see cref="WavReader"/> reads: what a client sends to
/// <c>/predict</c>, <c>/label</c> or the samples topic (the demo, tests, fuzz seeds).
/// </summary>
public static class WavWriter
{
    /// <summary>The header before the samples: RIFF header, a 16-byte <c>fmt </c> chunk, the <c>data</c> chunk header.</summary>
    public const int HeaderBytes = WavReader.RiffHeaderBytes + WavReader.ChunkHeaderBytes + 16 + WavReader.ChunkHeaderBytes;

    /// <summary>A PCM16 mono WAV of <paramref name="samples"/> at <paramref name="sampleRate"/> Hz.</summary>
    public static byte[] Pcm16Mono(ReadOnlySpan<short> samples, int sampleRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRate);
        var dataBytes = checked(samples.Length * 2);
        var wav = new byte[checked(HeaderBytes + dataBytes)];
        var s = wav.AsSpan();
        "RIFF"u8.CopyTo(s);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)(wav.Length - 8));
        "WAVE"u8.CopyTo(s[8..]);
        "fmt "u8.CopyTo(s[12..]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], 16);
        BinaryPrimitives.WriteUInt16LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(s[22..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], checked((uint)sampleRate * 2));
        BinaryPrimitives.WriteUInt16LittleEndian(s[32..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[34..], 16);
        "data"u8.CopyTo(s[36..]);
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], (uint)dataBytes);
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(s[(HeaderBytes + (2 * i))..], samples[i]);
        return wav;
    }

    /// <summary>A PCM16 mono WAV of int16-scale floats (rounded and clamped to −32768…32767).</summary>
    public static byte[] Pcm16Mono(ReadOnlySpan<float> samples, int sampleRate)
    {
        var pcm = new short[samples.Length];
        for (var i = 0; i < pcm.Length; i++) pcm[i] = (short)Math.Clamp(MathF.Round(samples[i]), short.MinValue, short.MaxValue);
        return Pcm16Mono(pcm, sampleRate);
    }
}
