using System.Buffers.Binary;
using System.Text;

namespace ContinualLearning.Deltas;

/// <summary>Bounds-checked little-endian reader of the delta format: every read past the end becomes a DeltaFormatException.</summary>
internal ref struct DeltaSpanReader(ReadOnlySpan<byte> data, int position)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _data = data;

    public int Position { get; private set; } = position;

    public readonly int Remaining => _data.Length - Position;

    public readonly bool AtEnd => Position == _data.Length;

    public ReadOnlySpan<byte> ReadBytes(int count, string field)
    {
        if (count < 0 || count > Remaining)
            throw new DeltaFormatException($"Delta is truncated: {field} needs {count} bytes at offset {Position}, {Remaining} remain.");
        var s = _data.Slice(Position, count);
        Position += count;
        return s;
    }

    public byte ReadByte(string field) => ReadBytes(1, field)[0];

    public long ReadInt64(string field) => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8, field));

    public float ReadSingle(string field) => BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4, field));

    public double ReadDouble(string field) => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8, field));

    public ulong ReadVarint(string field)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = ReadByte(field);
            if (shift == 63 && b > 1)
                throw new DeltaFormatException($"Varint for {field} at offset {Position - 1} overflows 64 bits.");
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new DeltaFormatException($"Varint for {field} ending at offset {Position} is longer than {Varint.MaxBytes} bytes.");
    }

    public long ReadVarintInt64(string field)
    {
        var v = ReadVarint(field);
        if (v > long.MaxValue) throw new DeltaFormatException($"{field} {v} is out of range.");
        return (long)v;
    }

    public int ReadVarintCount(string field, int max)
    {
        var v = ReadVarint(field);
        if (v > (ulong)max) throw new DeltaFormatException($"{field} is {v}, over the limit of {max}.");
        return (int)v;
    }

    public string ReadString(string field)
    {
        var length = ReadVarint($"length of {field}");
        if (length > DeltaCodec.MaxStringBytes) throw new DeltaFormatException($"{field} is {length} bytes long, over the limit of {DeltaCodec.MaxStringBytes}.");
        var bytes = ReadBytes((int)length, field);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new DeltaFormatException($"{field} at offset {Position - (int)length} is not valid UTF-8.", ex);
        }
    }
}
