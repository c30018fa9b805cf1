using System.Buffers.Binary;
using System.Text;

namespace ContinualLearning.Deltas;

/// <summary>Growable little-endian writer of the delta format over a single array (no streams, so encoding stays allocation-light).</summary>
internal struct DeltaByteWriter(int capacity)
{
    private byte[] _buffer = new byte[Math.Max(capacity, 64)];
    private int _length;

    public readonly ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _length);

    public Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        var s = _buffer.AsSpan(_length, count);
        _length += count;
        return s;
    }

    public void WriteByte(byte b) => Reserve(1)[0] = b;

    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));

    public void WriteVarint(ulong v)
    {
        Span<byte> tmp = stackalloc byte[Varint.MaxBytes];
        WriteBytes(tmp[..Varint.Write(tmp, v)]);
    }

    public void WriteInt64(long v) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), v);

    public void WriteSingle(float v) => BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), v);

    public void WriteDouble(double v) => BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), v);

    public void WriteString(string s, string field)
    {
        ArgumentNullException.ThrowIfNull(s, field);
        var count = Encoding.UTF8.GetByteCount(s);
        if (count > DeltaCodec.MaxStringBytes) throw new ArgumentException($"The {field} '{s}' is {count} bytes in UTF-8; at most {DeltaCodec.MaxStringBytes} are allowed.");
        WriteVarint((ulong)count);
        Encoding.UTF8.GetBytes(s, Reserve(count));
    }

    public readonly byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();
}
