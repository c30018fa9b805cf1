using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ContinualLearning.Deltas;

/// <summary>
/// The binary delta format "CLD1" (see docs/protocol.md): header, per-tensor sparse or dense values with
/// LEB128 gap-encoded indices, the optional label list (<see cref="DeltaLabels"/>), and a truncated SHA-256 trailer. Encoding and decoding are pure functions.
/// </summary>
public static class DeltaCodec
{
    /// <summary>Current format version byte.</summary>
    public const byte FormatVersion = 1;

    /// <summary>Length of the SHA-256 prefix at the end of every payload.</summary>
    public const int ChecksumLength = 16;

    internal const int MaxStringBytes = 256;
    internal const int MaxRank = 8;

    /// <summary>"CLD1".</summary>
    public static ReadOnlySpan<byte> Magic => "CLD1"u8;

    private const int MinLength = 4 + 1 + ChecksumLength;

    /// <summary>Serialises a delta. Values not on their encoding's grid are quantised (lossy) as they are written.</summary>
    public static byte[] Encode(WeightDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var h = delta.Header;
        ArgumentException.ThrowIfNullOrEmpty(h.ModelName, "delta.Header.ModelName");
        ArgumentException.ThrowIfNullOrEmpty(h.DeviceId, "delta.Header.DeviceId");
        if (string.IsNullOrEmpty(h.BaseVersion)) throw new ArgumentException("Base version is empty; a delta must name the global version it was trained from.", nameof(delta));
        if (h.SampleCount < 0) throw new ArgumentException($"Sample count {h.SampleCount} is negative.", nameof(delta));

        var w = new DeltaByteWriter(EstimateSize(delta));
        w.WriteBytes(Magic);
        w.WriteByte(FormatVersion);
        w.WriteString(h.ModelName, "model name");
        w.WriteString(h.BaseVersion, "base version");
        w.WriteString(h.DeviceId, "device id");
        Span<byte> guid = stackalloc byte[16];
        h.DeltaId.TryWriteBytes(guid, bigEndian: true, out _);
        w.WriteBytes(guid);
        w.WriteVarint((ulong)h.SampleCount);
        w.WriteInt64(h.CreatedAt.ToUnixTimeMilliseconds());
        var metrics = h.Metrics ?? new Dictionary<string, double>();
        w.WriteVarint((ulong)metrics.Count);
        foreach (var (key, value) in metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!double.IsFinite(value)) throw new ArgumentException($"Metric '{key}' is {value}; metrics must be finite.", nameof(delta));
            w.WriteString(key, "metric name");
            w.WriteDouble(value);
        }

        w.WriteVarint((ulong)delta.Tensors.Count);
        foreach (var t in delta.Tensors) WriteTensor(ref w, t);
        // After the tensors, so a delta without labels is byte for byte what it was before the section existed.
        DeltaLabels.Write(ref w, h.Labels);

        var body = w.Span;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        w.WriteBytes(hash[..ChecksumLength]);
        return w.ToArray();
    }

    private static void WriteTensor(ref DeltaByteWriter w, TensorDelta t)
    {
        w.WriteString(t.Name, "tensor name");
        if (t.Shape.Length > MaxRank) throw new ArgumentException($"Tensor '{t.Name}' has rank {t.Shape.Length}; at most {MaxRank} is supported.");
        w.WriteByte((byte)t.Shape.Length);
        foreach (var d in t.Shape) w.WriteVarint((ulong)d);
        w.WriteByte((byte)t.Encoding);
        w.WriteByte((byte)t.Layout);
        w.WriteVarint((ulong)t.Count);
        if (!float.IsFinite(t.Scale) || t.Scale < 0)
            throw new ArgumentException($"Tensor '{t.Name}': scale {t.Scale} must be finite and non-negative.");
        w.WriteSingle(t.Scale);

        if (t.Indices is { } indices)
        {
            var previous = -1L;
            foreach (var index in indices)
            {
                if (index <= previous || index >= t.ElementCount)
                    throw new ArgumentException($"Tensor '{t.Name}': index {index} is not increasing or out of range [0, {t.ElementCount}).");
                // The first index is sent as-is (gap from -1 minus 1), the rest as gaps minus one: gaps are ≥ 1 so this saves a bit.
                w.WriteVarint((ulong)(index - previous - 1));
                previous = index;
            }
        }

        var values = t.Values;
        switch (t.Encoding)
        {
            case DeltaEncoding.Int8:
                var dst8 = w.Reserve(values.Length);
                for (var i = 0; i < values.Length; i++)
                {
                    CheckFinite(t, i);
                    dst8[i] = (byte)DeltaCompressor.QuantizeInt8(values[i], t.Scale);
                }
                break;
            case DeltaEncoding.Float16:
                if (t.Scale == 0) throw new ArgumentException($"Tensor '{t.Name}': fp16 scale must be positive.");
                var dst16 = w.Reserve(values.Length * 2);
                for (var i = 0; i < values.Length; i++)
                {
                    CheckFinite(t, i);
                    var h = (Half)(values[i] / t.Scale);
                    if (!Half.IsFinite(h)) throw new ArgumentException($"Tensor '{t.Name}': value {values[i]} overflows fp16 at scale {t.Scale}.");
                    BinaryPrimitives.WriteHalfLittleEndian(dst16.Slice(i * 2, 2), h);
                }
                break;
            case DeltaEncoding.Float32:
                var dst32 = w.Reserve(values.Length * 4);
                for (var i = 0; i < values.Length; i++)
                {
                    CheckFinite(t, i);
                    BinaryPrimitives.WriteSingleLittleEndian(dst32.Slice(i * 4, 4), values[i]);
                }
                break;
            default:
                throw new ArgumentException($"Tensor '{t.Name}': unknown encoding {t.Encoding}.");
        }
    }

    private static void CheckFinite(TensorDelta t, int i)
    {
        if (!float.IsFinite(t.Values[i]))
            throw new ArgumentException($"Tensor '{t.Name}': value {i} is {t.Values[i]}; deltas must be finite.");
    }

    private static int EstimateSize(WeightDelta delta)
    {
        long size = 256;
        foreach (var t in delta.Tensors)
        {
            var valueSize = t.Encoding switch { DeltaEncoding.Int8 => 1, DeltaEncoding.Float16 => 2, _ => 4 };
            size += 64 + (long)t.Count * valueSize + (t.Indices is null ? 0 : (long)t.Count * 2);
        }
        return (int)Math.Min(size, Array.MaxLength);
    }

    /// <summary>
    /// Parses and validates an untrusted payload. Any problem — truncation, size, magic, version, checksum,
    /// unknown encoding, shape mismatch, bad index, non-finite value — raises <see cref="DeltaFormatException"/>.
    /// </summary>
    public static WeightDelta Decode(ReadOnlySpan<byte> payload, DeltaDecodeOptions? options = null)
    {
        options ??= new DeltaDecodeOptions();
        if (payload.Length > options.MaxPayloadBytes)
            throw new DeltaFormatException($"Delta payload is {payload.Length} bytes, over the limit of {options.MaxPayloadBytes}; raise MaxPayloadBytes or send a sparser delta.");
        if (payload.Length < MinLength)
            throw new DeltaFormatException($"Delta payload is truncated: {payload.Length} bytes, a valid one has at least {MinLength}.");
        if (!payload[..4].SequenceEqual(Magic))
            throw new DeltaFormatException($"Not a delta: magic is {Convert.ToHexString(payload[..4])}, expected 434C4431 (\"CLD1\").");
        if (payload[4] != FormatVersion)
            throw new DeltaFormatException($"Unsupported delta format version {payload[4]}; this build reads version {FormatVersion}. Upgrade the receiver or re-encode on the sender.");

        var body = payload[..^ChecksumLength];
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        if (!hash[..ChecksumLength].SequenceEqual(payload[^ChecksumLength..]))
            throw new DeltaFormatException($"Delta checksum mismatch over {body.Length} bytes: the payload is corrupted or truncated.");

        var r = new DeltaSpanReader(body, 5);
        var modelName = r.ReadString("model name");
        var baseVersion = r.ReadString("base version");
        var deviceId = r.ReadString("device id");
        var deltaId = new Guid(r.ReadBytes(16, "delta id"), bigEndian: true);
        var sampleCount = r.ReadVarintInt64("sample count");
        var createdMs = r.ReadInt64("created time");
        if (createdMs < -62_135_596_800_000L || createdMs > 253_402_300_799_999L)
            throw new DeltaFormatException($"Created time {createdMs} ms since 1970 is outside the representable range.");
        var createdAt = DateTimeOffset.FromUnixTimeMilliseconds(createdMs);

        var metricCount = r.ReadVarintCount("metric count", options.MaxMetrics);
        var metrics = new Dictionary<string, double>(metricCount, StringComparer.Ordinal);
        for (var i = 0; i < metricCount; i++)
        {
            var key = r.ReadString("metric name");
            var value = r.ReadDouble($"metric '{key}'");
            if (!double.IsFinite(value)) throw new DeltaFormatException($"Metric '{key}' is {value}; metrics must be finite.");
            if (!metrics.TryAdd(key, value)) throw new DeltaFormatException($"Metric '{key}' appears twice.");
        }

        var tensorCount = r.ReadVarintCount("tensor count", options.MaxTensors);
        var tensors = new TensorDelta[tensorCount];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var t = 0; t < tensorCount; t++)
        {
            tensors[t] = ReadTensor(ref r, t);
            if (!seen.Add(tensors[t].Name))
                throw new DeltaFormatException($"Tensor '{tensors[t].Name}' appears twice.") { TensorName = tensors[t].Name };
        }
        var labels = DeltaLabels.Read(ref r);

        if (options.ExpectedTensors is { } expected) CheckExpected(tensors, expected);

        var header = new DeltaHeader(modelName, baseVersion, deviceId, deltaId, sampleCount, metrics, createdAt, labels);
        return new WeightDelta(header, tensors);
    }

    private static TensorDelta ReadTensor(ref DeltaSpanReader r, int ordinal)
    {
        var name = r.ReadString($"name of tensor #{ordinal}");
        if (name.Length == 0) throw new DeltaFormatException($"Tensor #{ordinal} has an empty name.");
        var rank = r.ReadByte($"rank of tensor '{name}'");
        if (rank > MaxRank) throw Bad(name, $"rank {rank} exceeds the maximum of {MaxRank}.");
        var shape = new int[rank];
        long elements = 1;
        for (var d = 0; d < rank; d++)
        {
            var dim = r.ReadVarint($"dimension {d} of tensor '{name}'");
            if (dim > int.MaxValue) throw Bad(name, $"dimension {d} is {dim}, over {int.MaxValue}.");
            shape[d] = (int)dim;
            elements *= (long)dim;
            if (elements > Array.MaxLength) throw Bad(name, $"shape [{string.Join(", ", shape[..(d + 1)])}...] has more than {Array.MaxLength} elements.");
        }

        var encodingByte = r.ReadByte($"encoding of tensor '{name}'");
        if (encodingByte is < (byte)DeltaEncoding.Int8 or > (byte)DeltaEncoding.Float32)
            throw Bad(name, $"unknown value encoding {encodingByte} (known: 1 = int8, 2 = fp16, 3 = fp32).");
        var encoding = (DeltaEncoding)encodingByte;
        var layoutByte = r.ReadByte($"layout of tensor '{name}'");
        if (layoutByte > (byte)DeltaLayout.Sparse)
            throw Bad(name, $"unknown layout {layoutByte} (known: 0 = dense, 1 = sparse).");
        var layout = (DeltaLayout)layoutByte;

        var count = r.ReadVarint($"value count of tensor '{name}'");
        if (count > (ulong)elements) throw Bad(name, $"value count {count} exceeds its {elements} elements.");
        if (layout == DeltaLayout.Dense && count != (ulong)elements)
            throw Bad(name, $"dense layout needs {elements} values, header says {count}.");
        var valueSize = encoding switch { DeltaEncoding.Int8 => 1, DeltaEncoding.Float16 => 2, _ => 4 };
        // Each index takes ≥ 1 byte, so this check bounds every allocation below by the payload size.
        var minBytes = count * (ulong)(valueSize + (layout == DeltaLayout.Sparse ? 1 : 0));
        if (minBytes > (ulong)r.Remaining)
            throw Bad(name, $"{count} values need at least {minBytes} bytes but only {r.Remaining} remain (truncated?).");
        var n = (int)count;

        var scale = r.ReadSingle($"scale of tensor '{name}'");
        if (!float.IsFinite(scale) || scale < 0) throw Bad(name, $"scale {scale} is not a finite non-negative number.");
        if (encoding == DeltaEncoding.Float16 && scale == 0) throw Bad(name, "fp16 scale is 0.");

        int[]? indices = null;
        if (layout == DeltaLayout.Sparse)
        {
            indices = new int[n];
            var previous = -1L;
            for (var i = 0; i < n; i++)
            {
                var gap = r.ReadVarint($"index {i} of tensor '{name}'");
                if (gap >= (ulong)elements) throw Bad(name, $"index {i} jumps by {gap} + 1, past its {elements} elements.");
                var index = previous + 1 + (long)gap;
                if (index >= elements) throw Bad(name, $"index {i} is {index}, out of range [0, {elements}).");
                indices[i] = (int)index;
                previous = index;
            }
        }

        var values = new float[n];
        var raw = r.ReadBytes(n * valueSize, $"values of tensor '{name}'");
        switch (encoding)
        {
            case DeltaEncoding.Int8:
                for (var i = 0; i < n; i++)
                {
                    var q = (sbyte)raw[i];
                    if (q == sbyte.MinValue) throw Bad(name, $"value {i} is -128; int8 values are in [-127, 127].");
                    values[i] = q * scale;
                }
                break;
            case DeltaEncoding.Float16:
                for (var i = 0; i < n; i++)
                {
                    var h = BinaryPrimitives.ReadHalfLittleEndian(raw.Slice(i * 2, 2));
                    var v = (float)h * scale;
                    if (!float.IsFinite(v)) throw Bad(name, $"value {i} is {(float)h} × scale {scale} = {v}; values must be finite.");
                    values[i] = v;
                }
                break;
            default:
                for (var i = 0; i < n; i++)
                {
                    var v = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4, 4));
                    if (!float.IsFinite(v)) throw Bad(name, $"value {i} is {v}; values must be finite.");
                    values[i] = v;
                }
                break;
        }
        return new TensorDelta(name, shape, encoding, scale, indices, values);
    }

    private static void CheckExpected(TensorDelta[] tensors, IReadOnlyList<(string Name, int[] Shape)> expected)
    {
        var byName = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (name, shape) in expected) byName[name] = shape;
        foreach (var t in tensors)
        {
            if (!byName.TryGetValue(t.Name, out var shape))
                throw Bad(t.Name, $"is not part of the model (expected: {string.Join(", ", byName.Keys)}).");
            if (!shape.AsSpan().SequenceEqual(t.Shape))
                throw Bad(t.Name, $"shape [{string.Join(", ", t.Shape)}] does not match the model's [{string.Join(", ", shape)}].");
        }
        if (tensors.Length != byName.Count)
        {
            var missing = byName.Keys.Except(tensors.Select(t => t.Name), StringComparer.Ordinal);
            throw new DeltaFormatException($"Delta lacks tensors the model has: {string.Join(", ", missing)}.");
        }
    }

    private static DeltaFormatException Bad(string tensor, string what) =>
        new($"Tensor '{tensor}': {what}") { TensorName = tensor };
}
