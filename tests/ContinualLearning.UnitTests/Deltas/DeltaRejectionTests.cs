using System.Buffers.Binary;
using System.Text;
using ContinualLearning.Deltas;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Deltas;

/// <summary>Each malformation is produced on purpose and must be named in the exception message.</summary>
public class DeltaRejectionTests
{
    private const string Name = "tensorX";

    /// <summary>One sparse int8 tensor "tensorX" [10, 20] with 3 values; returns the payload and the offset of its encoding byte.</summary>
    private static (byte[] Payload, int EncodingOffset) Sample(DeltaEncoding encoding = DeltaEncoding.Int8)
    {
        var data = new float[200];
        data[5] = 1f;
        data[50] = -2f;
        data[150] = 0.5f;
        var t = DeltaCompressor.Compress([new NamedTensor(Name, [10, 20], data)], new DeltaCompressionOptions(0.015, encoding));
        var payload = DeltaCodec.Encode(new WeightDelta(DeltaTestData.Header(new Random(1)), t));
        var nameAt = payload.AsSpan().IndexOf(Encoding.UTF8.GetBytes(Name));
        // name, rank (1 byte), two one-byte dims, then the encoding byte.
        return (payload, nameAt + Name.Length + 1 + 2);
    }

    private static DeltaFormatException Rejects(byte[] payload, DeltaDecodeOptions? options = null) =>
        Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(payload, options));

    [Fact]
    public void Sample_is_valid_and_offsets_are_right()
    {
        var (payload, at) = Sample();
        var d = DeltaCodec.Decode(payload);
        Assert.Equal([5, 50, 150], d.Tensors[0].Indices!);
        Assert.Equal((byte)DeltaEncoding.Int8, payload[at]);
        Assert.Equal((byte)DeltaLayout.Sparse, payload[at + 1]);
        Assert.Equal(3, payload[at + 2]);
    }

    [Fact]
    public void Unknown_magic() => Assert.Contains("magic", Rejects([.. "XXXX"u8, .. Sample().Payload.AsSpan(4)]).Message);

    [Fact]
    public void Unknown_format_version()
    {
        var p = Sample().Payload;
        p[4] = 9;
        Assert.Contains("version 9", Rejects(p).Message);
    }

    [Fact]
    public void Oversized_payload_is_refused_before_parsing()
    {
        var p = Sample().Payload;
        Assert.Contains("over the limit", Rejects(p, new DeltaDecodeOptions { MaxPayloadBytes = p.Length - 1 }).Message);
    }

    [Fact]
    public void Truncated_payload()
    {
        var p = Sample().Payload;
        Assert.Contains("checksum", Rejects(p[..^3]).Message);
        Assert.Contains("truncated", Rejects(p[..10]).Message);
    }

    [Fact]
    public void Corrupted_byte_fails_the_checksum()
    {
        var p = Sample().Payload;
        p[p.Length / 2] ^= 0x10;
        Assert.Contains("checksum", Rejects(p).Message);
    }

    [Fact]
    public void Unknown_encoding_names_tensor_and_value()
    {
        var (p, at) = Sample();
        p[at] = 7;
        var ex = Rejects(DeltaTestData.Reseal(p));
        Assert.Equal(Name, ex.TensorName);
        Assert.Contains("encoding 7", ex.Message);
    }

    [Fact]
    public void Index_out_of_range()
    {
        var (p, at) = Sample();
        // After count (+2) and scale (+3..+6) come the index gaps: 5, 44, 99 (indices 5, 50, 150).
        // First index 127 → 127, 127 + 45 = 172, 172 + 100 = 272 ≥ 200 elements.
        p[at + 7] = 0x7F;
        var ex = Rejects(DeltaTestData.Reseal(p));
        Assert.Equal(Name, ex.TensorName);
        Assert.Contains("out of range", ex.Message);
        Assert.Contains("272", ex.Message);
    }

    [Fact]
    public void Count_beyond_the_remaining_bytes_is_refused_before_allocating()
    {
        var (p, at) = Sample();
        p[at + 2] = 0x7F; // 127 values claimed, far more than the bytes left
        var ex = Rejects(DeltaTestData.Reseal(p));
        Assert.Equal(Name, ex.TensorName);
        Assert.Contains("127 values", ex.Message);
    }

    [Fact]
    public void NaN_scale_is_refused()
    {
        var (p, at) = Sample();
        BinaryPrimitives.WriteSingleLittleEndian(p.AsSpan(at + 3, 4), float.NaN);
        var ex = Rejects(DeltaTestData.Reseal(p));
        Assert.Contains("scale", ex.Message);
        Assert.Equal(Name, ex.TensorName);
    }

    [Fact]
    public void Infinite_fp32_value_is_refused_with_its_position()
    {
        var (p, _) = Sample(DeltaEncoding.Float32);
        // Values are the last 3 × 4 bytes before the 16-byte checksum.
        var valuesAt = p.Length - DeltaCodec.ChecksumLength - 12;
        BinaryPrimitives.WriteSingleLittleEndian(p.AsSpan(valuesAt + 4, 4), float.PositiveInfinity);
        var ex = Rejects(DeltaTestData.Reseal(p));
        Assert.Contains("value 1", ex.Message);
        Assert.Contains("Infinity", ex.Message);
    }

    [Fact]
    public void Int8_minus_128_is_refused()
    {
        var (p, _) = Sample();
        p[p.Length - DeltaCodec.ChecksumLength - 1] = 0x80;
        Assert.Contains("-128", Rejects(DeltaTestData.Reseal(p)).Message);
    }

    [Fact]
    public void Trailing_garbage_is_refused()
    {
        var p = Sample().Payload;
        var longer = new byte[p.Length + 1];
        p.AsSpan(0, p.Length - DeltaCodec.ChecksumLength).CopyTo(longer);
        Assert.Contains("unexpected bytes", Rejects(DeltaTestData.Reseal(longer)).Message);
    }
}
