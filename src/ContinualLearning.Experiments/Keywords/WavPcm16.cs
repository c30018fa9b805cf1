using System.Buffers.Binary;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>The minimal RIFF/WAVE PCM16 reading and writing the corpus needs (espeak-ng's output and the clip files).</summary>
internal static class WavPcm16
{
    private const int HeaderBytes = 44;

    /// <summary>A canonical 44-byte-header PCM16 mono WAV of <paramref name="samples"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<short> samples, int sampleRate)
    {
        var data = samples.Length * 2;
        var bytes = new byte[HeaderBytes + data];
        var s = bytes.AsSpan();
        "RIFF"u8.CopyTo(s);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], 36 + data);
        "WAVE"u8.CopyTo(s[8..]);
        "fmt "u8.CopyTo(s[12..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[16..], 16);
        BinaryPrimitives.WriteInt16LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteInt16LittleEndian(s[22..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(s[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(s[28..], sampleRate * 2);
        BinaryPrimitives.WriteInt16LittleEndian(s[32..], 2);
        BinaryPrimitives.WriteInt16LittleEndian(s[34..], 16);
        "data"u8.CopyTo(s[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[40..], data);
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(s[(HeaderBytes + 2 * i)..], samples[i]);
        return bytes;
    }

    /// <summary>
    /// Samples (int16 scale) and rate of a PCM16 mono WAV. A streamed WAV (espeak-ng's <c>--stdout</c> writes
    /// 0x7FFFFFFF sizes) is read to the end of the bytes. Throws <see cref="InvalidDataException"/> naming what is wrong.
    /// </summary>
    public static (float[] Samples, int SampleRate) Decode(ReadOnlySpan<byte> wav)
    {
        if (wav.Length < 12 || !wav[..4].SequenceEqual("RIFF"u8) || !wav[8..12].SequenceEqual("WAVE"u8))
            throw new InvalidDataException($"Not a RIFF/WAVE file ({wav.Length} bytes).");
        var pos = 12;
        var rate = 0;
        while (pos + 8 <= wav.Length)
        {
            var id = wav.Slice(pos, 4);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(wav[(pos + 4)..]);
            var body = pos + 8;
            if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16 || body + 16 > wav.Length) throw new InvalidDataException("WAV fmt chunk is truncated.");
                var format = BinaryPrimitives.ReadInt16LittleEndian(wav[body..]);
                var channels = BinaryPrimitives.ReadInt16LittleEndian(wav[(body + 2)..]);
                rate = BinaryPrimitives.ReadInt32LittleEndian(wav[(body + 4)..]);
                var bits = BinaryPrimitives.ReadInt16LittleEndian(wav[(body + 14)..]);
                if (format != 1 || channels != 1 || bits != 16 || rate <= 0)
                    throw new InvalidDataException($"WAV is format {format}, {channels} channel(s), {bits} bit at {rate} Hz; expected PCM (1), mono, 16 bit.");
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (rate == 0) throw new InvalidDataException("WAV data chunk comes before its fmt chunk.");
                var available = (wav.Length - body) & ~1;
                var count = (int)Math.Min(size, (uint)available) / 2;
                var samples = new float[count];
                for (var i = 0; i < count; i++) samples[i] = BinaryPrimitives.ReadInt16LittleEndian(wav[(body + 2 * i)..]);
                return (samples, rate);
            }
            var next = body + (long)size + (size & 1);
            if (next > wav.Length) break;
            pos = (int)next;
        }
        throw new InvalidDataException("WAV has no data chunk.");
    }
}
