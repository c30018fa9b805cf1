using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ContinualLearning.IO;
using ContinualLearning.Tensors;

namespace ContinualLearning.Bundle;

/// <summary>The content of a safetensors file: tensors in file (byte-offset) order and the optional "__metadata__" map.</summary>
public sealed record SafeTensorsContent(IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// Reader and writer for the safetensors format (github.com/huggingface/safetensors), so PyTorch users can
/// produce and read our head weights with <c>safetensors.torch.save_file / load_file</c>.
/// </summary>
/// <remarks>
/// <para>Layout: 8-byte little-endian u64 header length N; N bytes of UTF-8 JSON
/// <c>{"__metadata__":{..}, name:{"dtype","shape","data_offsets":[begin,end]}, ...}</c>, padded with spaces to a
/// multiple of 8; then the byte buffer, tensors little-endian row-major, offsets relative to the buffer start.</para>
/// <para>The writer reproduces the reference Rust writer (<c>safetensors::tensor::prepare</c>, used by the Python
/// package) byte for byte: tensors sorted by dtype alignment, then by name (byte-wise UTF-8 order — all ours are F32,
/// so by name); compact serde_json output with keys in the order dtype, shape, data_offsets; "__metadata__" first;
/// space padding to 8 bytes. The one place the reference is not deterministic is the order of "__metadata__" entries
/// (a Rust HashMap); we sort those keys ordinally so our output is reproducible.</para>
/// <para>The reader applies the reference validation: header length ≤ 100 MB and within the file, valid JSON object,
/// per tensor: known dtype, shape product × dtype size = byte length, offsets within the buffer; and across tensors:
/// sorted by offset they tile the byte buffer exactly (no overlap, no hole, nothing left over).</para>
/// </remarks>
public static class SafeTensors
{
    /// <summary>Largest header accepted, as in the reference implementation (protects against memory bombs).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    // Strict UTF-8: a lone surrogate in a name must fail loudly rather than be replaced by U+FFFD.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // Every dtype the reference format defines; the ones we cannot convert to float are rejected by name.
    private static readonly HashSet<string> KnownDtypes = new(StringComparer.Ordinal)
    {
        "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
        "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64", "C64",
    };

    /// <summary>Serialises tensors as F32 safetensors bytes (see the class remarks for the exact layout).</summary>
    public static byte[] Write(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            if (t.Name == MetadataKey)
                throw new ArgumentException($"A tensor cannot be named '{MetadataKey}': that key is reserved for the metadata map.", nameof(tensors));
            if (!names.Add(t.Name))
                throw new ArgumentException($"Tensor name '{t.Name}' appears twice; safetensors names must be unique.", nameof(tensors));
        }

        // Reference order: descending dtype alignment (all F32 here) then name, compared as UTF-8 bytes like Rust's str Ord.
        var ordered = tensors.Select(t => (Tensor: t, Key: StrictUtf8.GetBytes(t.Name)))
            .OrderBy(x => x.Key, ByteOrder.Instance)
            .Select(x => x.Tensor)
            .ToArray();

        var header = new StringBuilder();
        header.Append('{');
        var first = true;
        if (metadata is not null)
        {
            header.Append('"').Append(MetadataKey).Append("\":{");
            var firstEntry = true;
            foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!firstEntry) header.Append(',');
                AppendJsonString(header, kv.Key);
                header.Append(':');
                AppendJsonString(header, kv.Value);
                firstEntry = false;
            }
            header.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (var t in ordered)
        {
            if (!first) header.Append(',');
            first = false;
            var bytes = (long)t.Count * sizeof(float);
            AppendJsonString(header, t.Name);
            header.Append(":{\"dtype\":\"F32\",\"shape\":[");
            for (var i = 0; i < t.Shape.Length; i++)
            {
                if (i > 0) header.Append(',');
                header.Append(t.Shape[i].ToString(CultureInfo.InvariantCulture));
            }
            header.Append("],\"data_offsets\":[")
                .Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',')
                .Append((offset + bytes).ToString(CultureInfo.InvariantCulture)).Append("]}");
            offset += bytes;
        }
        header.Append('}');

        var headerBytes = StrictUtf8.GetBytes(header.ToString());
        var padded = (headerBytes.Length + 7) / 8 * 8;
        var total = 8L + padded + offset;
        if (total > Array.MaxLength)
            throw new ArgumentException($"The tensors need {total} bytes, more than one array can hold.", nameof(tensors));
        var result = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)padded);
        headerBytes.CopyTo(result.AsSpan(8));
        result.AsSpan(8 + headerBytes.Length, padded - headerBytes.Length).Fill((byte)' ');
        var position = 8 + padded;
        foreach (var t in ordered)
        {
            var destination = result.AsSpan(position, t.Count * sizeof(float));
            if (BitConverter.IsLittleEndian)
            {
                MemoryMarshal.AsBytes(t.Data.AsSpan()).CopyTo(destination);
            }
            else
            {
                for (var i = 0; i < t.Count; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(destination[(i * 4)..], t.Data[i]);
            }
            position += destination.Length;
        }
        return result;
    }

    /// <summary>Writes <see cref="Write"/>'s bytes to <paramref name="path"/> atomically.</summary>
    public static void WriteFile(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, Write(tensors, metadata));

    /// <summary>Reads and validates a safetensors file; F16 and BF16 values are widened to float.</summary>
    /// <exception cref="BundleException">The file is missing or breaks a format rule; the message names the rule and value.</exception>
    public static SafeTensorsContent ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new BundleException(path, null, "file not found.");
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads and validates safetensors bytes; <paramref name="source"/> names the file in error messages.</summary>
    /// <exception cref="BundleException">The bytes break a format rule; the message names the tensor, rule and value.</exception>
    public static SafeTensorsContent Read(ReadOnlySpan<byte> bytes, string source = "safetensors")
    {
        if (bytes.Length < 8)
            throw new BundleException(source, null, $"file is {bytes.Length} bytes; a safetensors file starts with an 8-byte header length. The file is truncated or not safetensors.");
        var declared = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (declared > MaxHeaderBytes)
            throw new BundleException(source, null, $"header length {declared} exceeds the {MaxHeaderBytes}-byte limit; the file is corrupt or not safetensors.");
        if (declared > (ulong)(bytes.Length - 8))
            throw new BundleException(source, null, $"header length {declared} is larger than the {bytes.Length - 8} bytes after the length prefix; the file is truncated or not safetensors.");
        var headerLength = (int)declared;
        var header = bytes.Slice(8, headerLength);
        var buffer = bytes[(8 + headerLength)..];

        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new BundleException(source, null, "header is not valid UTF-8; the file is corrupt or not safetensors.");
        if (headerLength == 0 || header[0] != (byte)'{')
            throw new BundleException(source, null, "header does not start with '{'; the file is not safetensors.");

        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new BundleException(source, property.Name, "appears twice in the header; names must be unique.");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, source);
                else
                    entries.Add(ParseEntry(property.Name, property.Value, buffer.Length, source));
            }
        }
        catch (JsonException e)
        {
            throw new BundleException(source, null,
                $"header is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}): {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // JsonDocument unescapes a string only when it is read: an unpaired "\ud800" escape in a name or
            // metadata value surfaces here, not as a JsonException (found by fuzzing, docs/fuzzing.md).
            throw new BundleException(source, null, $"header holds a string with an unpaired surrogate escape: {e.Message}", e);
        }

        // Reference rule: sorted by offsets, the tensors tile the buffer exactly.
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        string? previous = null;
        foreach (var e in entries)
        {
            if (e.Begin != expected)
            {
                var what = e.Begin < expected
                    ? $"overlaps '{previous}' (which ends at {expected})"
                    : previous is null ? $"leaves bytes [0, {e.Begin}) unused" : $"leaves a hole after '{previous}' (bytes [{expected}, {e.Begin}) unused)";
                throw new BundleException(source, e.Name, $"data_offsets [{e.Begin}, {e.End}] {what}; tensors must cover the byte buffer contiguously.");
            }
            expected = e.End;
            previous = e.Name;
        }
        if (expected != buffer.Length)
            throw new BundleException(source, null,
                $"the tensors index {expected} bytes but the byte buffer after the header holds {buffer.Length}; the buffer must be fully indexed (file truncated or padded?).");

        var tensors = new NamedTensor[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            tensors[i] = new NamedTensor(e.Name, e.Shape, Decode(buffer[(int)e.Begin..(int)e.End], e.Dtype, e.Count));
        }
        return new SafeTensorsContent(tensors, metadata);
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new BundleException(source, MetadataKey, $"must be an object of string values, got {value.ValueKind}.");
        foreach (var p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new BundleException(source, $"{MetadataKey}.{p.Name}", $"must be a string, got {p.Value.ValueKind} ({p.Value.GetRawText()}).");
            if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
                throw new BundleException(source, $"{MetadataKey}.{p.Name}", "appears twice in the metadata map.");
        }
    }

    private static Entry ParseEntry(string name, JsonElement info, int bufferLength, string source)
    {
        if (name.Length == 0)
            throw new BundleException(source, name, "a tensor name is empty; every tensor needs a name.");
        if (info.ValueKind != JsonValueKind.Object)
            throw new BundleException(source, name, $"tensor info must be an object with dtype, shape and data_offsets; got {info.ValueKind}.");
        if (!info.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new BundleException(source, $"{name}.dtype", "missing or not a string.");
        var dtype = dtypeElement.GetString()!;
        var elementSize = dtype switch
        {
            "F32" => 4,
            "F16" or "BF16" => 2,
            _ when KnownDtypes.Contains(dtype) => throw new BundleException(source, $"{name}.dtype",
                $"unsupported dtype '{dtype}' for tensor '{name}'; head weights must be F32 (F16 and BF16 are also read). Convert with tensor.float() before saving."),
            _ => throw new BundleException(source, $"{name}.dtype",
                $"unknown dtype '{dtype}' for tensor '{name}'; expected F32, F16 or BF16."),
        };

        if (!info.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new BundleException(source, $"{name}.shape", "missing or not an array of dimensions.");
        var shape = new int[shapeElement.GetArrayLength()];
        long count = 1;
        var index = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out var dim) || dim < 0)
                throw new BundleException(source, $"{name}.shape[{index}]", $"dimension {d.GetRawText()} is not a non-negative 32-bit integer.");
            shape[index++] = dim;
            count *= dim;
            if (count > int.MaxValue)
                throw new BundleException(source, $"{name}.shape", $"shape [{string.Join(", ", shape[..index])}...] has more than {int.MaxValue} elements.");
        }

        if (!info.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
            throw new BundleException(source, $"{name}.data_offsets", "missing or not a [begin, end] pair.");
        var begin = ReadOffset(offsetsElement[0], name, source);
        var end = ReadOffset(offsetsElement[1], name, source);
        if (begin > end)
            throw new BundleException(source, $"{name}.data_offsets", $"begin {begin} is after end {end}.");
        if (end > bufferLength)
            throw new BundleException(source, $"{name}.data_offsets", $"[{begin}, {end}] points past the end of the {bufferLength}-byte buffer; the file is truncated or corrupt.");
        if (count * elementSize != end - begin)
            throw new BundleException(source, name,
                $"shape [{string.Join(", ", shape)}] × {dtype} ({elementSize} bytes) needs {count * elementSize} bytes but data_offsets [{begin}, {end}] span {end - begin}.");
        return new Entry(name, dtype, shape, (int)count, begin, end);
    }

    private static long ReadOffset(JsonElement element, string name, string source)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value) || value < 0)
            throw new BundleException(source, $"{name}.data_offsets", $"offset {element.GetRawText()} is not a non-negative integer.");
        return value;
    }

    private static float[] Decode(ReadOnlySpan<byte> bytes, string dtype, int count)
    {
        var data = new float[count];
        switch (dtype)
        {
            case "F32" when BitConverter.IsLittleEndian:
                bytes.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
                break;
            case "F32":
                for (var i = 0; i < count; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                break;
            case "F16":
                for (var i = 0; i < count; i++) data[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                break;
            case "BF16":
                // bfloat16 is the top half of an IEEE float32, so widening is a 16-bit shift (exact, NaN/Inf preserved).
                for (var i = 0; i < count; i++)
                    data[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]) << 16);
                break;
            default:
                throw new InvalidOperationException($"dtype {dtype} passed validation but has no decoder.");
        }
        return data;
    }

    /// <summary>Appends a JSON string the way serde_json does: escapes only '"', '\\' and control characters (lower-case hex); everything else raw UTF-8.</summary>
    private static void AppendJsonString(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append('"');
    }

    private sealed record Entry(string Name, string Dtype, int[] Shape, int Count, long Begin, long End);

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
