using System.Security.Cryptography;
using ContinualLearning.Deltas;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Deltas of the kit's small head (3 → 4 → classes) from a class-incremental device: its labels in output-row order and
/// one value per output row (weight row and bias) by label; every hidden-layer value changes by the same amount.
/// </summary>
internal static class LabelledDeltas
{
    public static byte[] Encode(string device, IReadOnlyList<string>? labels, Func<string, float> row, float hidden = 0.01f, int? rows = null,
        string baseVersion = "1.0.0", IReadOnlyList<string>? rowLabels = null)
    {
        var names = rowLabels ?? labels ?? ["0", "1"];
        var n = rows ?? names.Count;
        var dense = new[]
        {
            new NamedTensor("0.weight", [4, 3], Enumerable.Repeat(hidden, 12).ToArray()),
            new NamedTensor("0.bias", [4], Enumerable.Repeat(hidden, 4).ToArray()),
            new NamedTensor("2.weight", [n, 4], Enumerable.Range(0, n * 4).Select(i => row(names[Math.Min(i / 4, names.Count - 1)])).ToArray()),
            new NamedTensor("2.bias", [n], Enumerable.Range(0, n).Select(r => row(names[Math.Min(r, names.Count - 1)])).ToArray()),
        };
        var tensors = DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseFloat32);
        var header = new DeltaHeader(AggregatorTestKit.Model, baseVersion, device, Guid.NewGuid(), 10, new Dictionary<string, double>(), DateTimeOffset.UtcNow, labels);
        return DeltaCodec.Encode(new WeightDelta(header, tensors));
    }

    /// <summary>Re-seals the checksum after a test patched the body (the encoder refuses what the attacks send).</summary>
    public static byte[] Reseal(byte[] bytes)
    {
        var body = bytes.Length - DeltaCodec.ChecksumLength;
        SHA256.HashData(bytes.AsSpan(0, body)).AsSpan(0, DeltaCodec.ChecksumLength).CopyTo(bytes.AsSpan(body));
        return bytes;
    }
}
