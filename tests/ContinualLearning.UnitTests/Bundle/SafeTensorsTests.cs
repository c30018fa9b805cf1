using System.Buffers.Binary;
using System.Text;
using ContinualLearning.Bundle;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Bundle;

/// <summary>
/// Fixtures are built by hand from the published format (8-byte LE length, JSON header padded with spaces to a
/// multiple of 8, LE data) — never with <see cref="SafeTensors.Write"/> — so reader and writer are each checked
/// against the spec rather than against each other.
/// </summary>
public sealed class SafeTensorsTests
{
    // IEEE-754 little-endian encodings written out by hand.
    private static readonly byte[] F32_1_2_3_4 =
    [
        0x00, 0x00, 0x80, 0x3F, // 1.0f
        0x00, 0x00, 0x00, 0x40, // 2.0f
        0x00, 0x00, 0x40, 0x40, // 3.0f
        0x00, 0x00, 0x80, 0x40, // 4.0f
    ];

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    private static byte[] U64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    /// <summary>A file from a header string, padded to 8 like the reference writer, followed by <paramref name="data"/>.</summary>
    private static byte[] File(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var padded = h.Concat(Enumerable.Repeat((byte)' ', (8 - h.Length % 8) % 8)).ToArray();
        return Concat(U64((ulong)padded.Length), padded, data);
    }

    [Fact]
    public void Write_single_tensor_is_byte_for_byte_the_reference_layout()
    {
        // 57-byte header → padded with 7 spaces to 64.
        var expected = Concat(
            [0x40, 0, 0, 0, 0, 0, 0, 0],
            Ascii("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"),
            Ascii("       "),
            F32_1_2_3_4);

        var actual = SafeTensors.Write([new NamedTensor("w", [2, 2], [1f, 2f, 3f, 4f])]);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Write_sorts_tensors_by_name_and_lays_data_out_in_that_order()
    {
        // Given out of order; the reference writer sorts by (dtype alignment desc, name), so "a" comes first.
        var expectedHeader = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
        Assert.Equal(110, expectedHeader.Length); // → 2 spaces of padding to 112
        var expected = Concat(U64(112), Ascii(expectedHeader), Ascii("  "), F32_1_2_3_4[..12]);

        var actual = SafeTensors.Write([new NamedTensor("b", [1, 1], [3f]), new NamedTensor("a", [2], [1f, 2f])]);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Write_puts_metadata_first_with_sorted_keys()
    {
        var header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a\\\"b\\n\"},\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
        var expected = File(header, F32_1_2_3_4[..4]);

        var actual = SafeTensors.Write(
            [new NamedTensor("w", [], [1f])],
            new Dictionary<string, string> { ["note"] = "a\"b\n", ["format"] = "pt" });

        Assert.Equal(expected, actual);
        Assert.Equal(0, (actual.Length - 8 - 4) % 8);
    }

    [Fact]
    public void Read_hand_built_f32_fixture()
    {
        var bytes = File("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", F32_1_2_3_4);

        var content = SafeTensors.Read(bytes);

        var t = Assert.Single(content.Tensors);
        Assert.Equal("w", t.Name);
        Assert.Equal([2, 2], t.Shape);
        Assert.Equal([1f, 2f, 3f, 4f], t.Data);
        Assert.Empty(content.Metadata);
    }

    [Fact]
    public void Read_hand_built_f16_fixture_widens_to_float()
    {
        byte[] f16 =
        [
            0x00, 0x3C, // 1.0
            0x00, 0xC0, // -2.0
            0x00, 0x38, // 0.5
            0xFF, 0x7B, // 65504 (largest finite half)
        ];
        var bytes = File("{\"__metadata__\":{\"format\":\"pt\"},\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", f16);

        var content = SafeTensors.Read(bytes);

        Assert.Equal([1f, -2f, 0.5f, 65504f], Assert.Single(content.Tensors).Data);
        Assert.Equal("pt", content.Metadata["format"]);
    }

    [Fact]
    public void Read_hand_built_bf16_fixture_widens_to_float()
    {
        byte[] bf16 = [0x80, 0x3F, 0x00, 0xC0, 0x80, 0xFF]; // 1.0, -2.0, -Inf
        var bytes = File("{\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", bf16);

        var data = Assert.Single(SafeTensors.Read(bytes).Tensors).Data;

        Assert.Equal([1f, -2f, float.NegativeInfinity], data);
    }

    [Fact]
    public void Read_accepts_tensors_listed_in_any_header_order_and_returns_them_in_offset_order()
    {
        var bytes = File(
            "{\"second\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},\"first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            F32_1_2_3_4);

        var tensors = SafeTensors.Read(bytes).Tensors;

        Assert.Equal(["first", "second"], tensors.Select(t => t.Name));
        Assert.Equal([3f, 4f], tensors[1].Data);
    }

    [Fact]
    public void Round_trip_preserves_names_shapes_values_and_metadata()
    {
        var rng = new Random(7);
        var tensors = new[]
        {
            new NamedTensor("0.weight", [3, 5], Enumerable.Range(0, 15).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()),
            new NamedTensor("0.bias", [3], [float.Epsilon, -0f, float.MaxValue]),
            new NamedTensor("2.weight", [0, 3], []),
            new NamedTensor("naïve✓", [1], [42f]),
        };
        var meta = new Dictionary<string, string> { ["k"] = "v" };

        var back = SafeTensors.Read(SafeTensors.Write(tensors, meta));

        foreach (var t in tensors)
        {
            var r = back.Tensors.Single(x => x.Name == t.Name);
            Assert.Equal(t.Shape, r.Shape);
            Assert.Equal(t.Data.Select(BitConverter.SingleToInt32Bits), r.Data.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal("v", back.Metadata["k"]);
    }

    [Fact]
    public void Write_rejects_duplicate_and_reserved_names()
    {
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() =>
            SafeTensors.Write([new NamedTensor("w", [1], [1f]), new NamedTensor("w", [1], [2f])])).Message);
        Assert.Contains("__metadata__", Assert.Throws<ArgumentException>(() =>
            SafeTensors.Write([new NamedTensor("__metadata__", [1], [1f])])).Message);
    }

    public static TheoryData<string, byte[], string?, string> Invalid()
    {
        const string W = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        return new()
        {
            { "shorter than the length prefix", [1, 2, 3], null, "8-byte header length" },
            { "header over 100 MB", Concat(U64(100_000_001), Ascii("{}      ")), null, "100000000-byte limit" },
            { "header past end of file", Concat(U64(64), Ascii("{}      ")), null, "header length 64 is larger than the 8 bytes" },
            { "not JSON", File("{\"w\":{\"dtype\":\n\"F32\",,}}", []), null, "line 2" },
            { "not an object", File("[1,2]", []), null, "does not start with '{'" },
            { "unknown dtype", File(W.Replace("F32", "Q7"), F32_1_2_3_4), "w.dtype", "unknown dtype 'Q7'" },
            { "unsupported dtype F64", File(W.Replace("F32", "F64"), F32_1_2_3_4), "w.dtype", "unsupported dtype 'F64' for tensor 'w'" },
            { "unsupported dtype I64", File(W.Replace("F32", "I64"), F32_1_2_3_4), "w.dtype", "unsupported dtype 'I64'" },
            { "offsets past buffer", File(W.Replace("[0,16]", "[0,32]").Replace("[2,2]", "[4,2]"), F32_1_2_3_4), "w.data_offsets", "past the end of the 16-byte buffer" },
            { "shape disagrees with byte length", File(W.Replace("[2,2]", "[3,2]"), F32_1_2_3_4), "w", "needs 24 bytes but data_offsets [0, 16] span 16" },
            { "begin after end", File(W.Replace("[0,16]", "[16,0]"), F32_1_2_3_4), "w.data_offsets", "begin 16 is after end 0" },
            { "negative dimension", File(W.Replace("[2,2]", "[-2,-2]"), F32_1_2_3_4), "w.shape[0]", "-2" },
            { "trailing bytes not indexed", File(W, Concat(F32_1_2_3_4, [0, 0, 0, 0])), null, "index 16 bytes but the byte buffer after the header holds 20" },
            {
                "overlap", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", F32_1_2_3_4),
                "b", "overlaps 'a'"
            },
            {
                "hole", File("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", F32_1_2_3_4),
                "b", "hole after 'a'"
            },
            { "duplicate tensor name", File(W.TrimEnd('}') + "},\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]}}", F32_1_2_3_4), "w", "twice" },
            { "header not UTF-8", Concat(U64(8), [(byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)' ']), null, "not valid UTF-8" },
            { "metadata value not a string", File("{\"__metadata__\":{\"n\":1}}", []), "__metadata__.n", "must be a string" },
        };
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Read_rejects_invalid_files_with_a_message_naming_the_problem(string _, byte[] bytes, string? field, string expected)
    {
        var e = Assert.Throws<BundleException>(() => SafeTensors.Read(bytes, "head.safetensors"));

        Assert.Equal("head.safetensors", e.File);
        Assert.Equal(field, e.Field);
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("head.safetensors", e.Message);
    }

    [Fact]
    public void Read_rejects_the_reference_docs_i32_example_as_unsupported()
    {
        // The byte string from safetensors' own Rust documentation ('<' = 60-byte header, I32 [2,2]).
        var bytes = Concat(
            [(byte)'<', 0, 0, 0, 0, 0, 0, 0],
            Ascii("{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"),
            new byte[16]);

        var e = Assert.Throws<BundleException>(() => SafeTensors.Read(bytes, "x.safetensors"));

        Assert.Contains("unsupported dtype 'I32' for tensor 'test'", e.Message);
    }
}
