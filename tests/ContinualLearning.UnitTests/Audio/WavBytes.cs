using System.Buffers.Binary;
using System.Text;

namespace ContinualLearning.UnitTests.Audio;

/// <summary>Builds WAV files chunk by chunk, right or wrong on purpose: the parser tests' and HTTP/MQTT tests' inputs.</summary>
internal static class WavBytes
{
    /// <summary>A RIFF/WAVE file of <paramref name="chunks"/>, its RIFF size correct unless <paramref name="riffSize"/> lies.</summary>
    public static byte[] Riff(IEnumerable<byte[]> chunks, uint? riffSize = null, string form = "WAVE", string magic = "RIFF")
    {
        var body = chunks.SelectMany(c => c).ToArray();
        var wav = new byte[12 + body.Length];
        Encoding.ASCII.GetBytes(magic).CopyTo(wav, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(wav.AsSpan(4), riffSize ?? (uint)(wav.Length - 8));
        Encoding.ASCII.GetBytes(form).CopyTo(wav, 8);
        body.CopyTo(wav, 12);
        return wav;
    }

    public static byte[] Riff(params byte[][] chunks) => Riff((IEnumerable<byte[]>)chunks);

    /// <summary>A chunk; an odd body gets its pad byte unless <paramref name="pad"/> is false; <paramref name="size"/> may lie.</summary>
    public static byte[] Chunk(string id, byte[] body, bool pad = true, uint? size = null)
    {
        var padded = pad && body.Length % 2 == 1 ? 1 : 0;
        var chunk = new byte[8 + body.Length + padded];
        Encoding.ASCII.GetBytes(id).CopyTo(chunk, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), size ?? (uint)body.Length);
        body.CopyTo(chunk, 8);
        return chunk;
    }

    public static byte[] Fmt(ushort tag = 1, ushort channels = 1, uint rate = 16_000, ushort bits = 16, ushort? blockAlign = null, uint? byteRate = null)
    {
        var align = blockAlign ?? (ushort)(channels * bits / 8);
        var fmt = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(fmt, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), channels);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(4), rate);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(8), byteRate ?? rate * align);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), align);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), bits);
        return Chunk("fmt ", fmt);
    }

    /// <summary>WAVE_FORMAT_EXTENSIBLE: the 16-byte fmt, cbSize 22, valid bits, channel mask, sub-format GUID (tag + KSDATAFORMAT suffix).</summary>
    public static byte[] FmtExtensible(ushort subTag = 1, ushort channels = 1, uint rate = 16_000, ushort bits = 16, bool standardGuid = true)
    {
        var basic = Fmt(0xFFFE, channels, rate, bits).AsSpan(8, 16).ToArray();
        var fmt = new byte[40];
        basic.CopyTo(fmt, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(16), 22);
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(18), bits);
        BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(20), 0x4); // front centre
        BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(24), subTag);
        byte[] suffix = standardGuid ? [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71] : [.. Enumerable.Repeat((byte)0x42, 14)];
        suffix.CopyTo(fmt, 26);
        return Chunk("fmt ", fmt);
    }

    public static byte[] Data(ReadOnlySpan<short> samples)
    {
        var body = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(body.AsSpan(2 * i), samples[i]);
        return Chunk("data", body);
    }

    /// <summary>A deterministic, distinctive clip: a seeded random walk (no two clips share a 16-sample run).</summary>
    public static short[] Clip(int seed, int samples = 16_000)
    {
        var rng = new Random(seed);
        var pcm = new short[samples];
        var v = 0;
        for (var i = 0; i < pcm.Length; i++)
        {
            v = Math.Clamp(v + rng.Next(-2000, 2001), -20_000, 20_000);
            pcm[i] = (short)(v + rng.Next(-300, 301));
        }
        return pcm;
    }
}
