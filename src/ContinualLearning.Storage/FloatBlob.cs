using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace ContinualLearning.Storage;

/// <summary>float32 little-endian blobs: the on-disk form of features, labels and predictions (what numpy's '&lt;f4' reads).</summary>
internal static class FloatBlob
{
    public static byte[] ToBytes(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Write(values, bytes);
        return bytes;
    }

    /// <summary>Writes <paramref name="values"/> into the first 4·n bytes of <paramref name="bytes"/>.</summary>
    public static void Write(ReadOnlySpan<float> values, Span<byte> bytes)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes[(i * 4)..], values[i]);
        }
    }

    public static float[] ToFloats(ReadOnlySpan<byte> bytes)
    {
        var values = new float[bytes.Length / sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            bytes[..(values.Length * sizeof(float))].CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        }
        else
        {
            for (var i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
        }
        return values;
    }

    /// <summary>Index of the first NaN/Infinity, or −1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
