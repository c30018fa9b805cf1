namespace ContinualLearning.Deltas;

/// <summary>Unsigned LEB128: 7 bits per byte, low groups first, high bit set on all but the last byte.</summary>
internal static class Varint
{
    /// <summary>At most 10 bytes encode a 64-bit value.</summary>
    public const int MaxBytes = 10;

    public static int Write(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static int Size(ulong value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }
}
