using System.Security.Cryptography;
using ContinualLearning.Deltas;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Deltas;

/// <summary>Seeded generators shared by the delta tests.</summary>
internal static class DeltaTestData
{
    public static NamedTensor RandomTensor(Random rng, string name, int[] shape, float magnitude)
    {
        var n = shape.Aggregate(1, (a, b) => a * b);
        var data = new float[n];
        for (var i = 0; i < n; i++)
        {
            // Mix of scales inside one tensor, plus exact zeros and ties, because that is what real deltas look like.
            var r = rng.NextDouble();
            data[i] = r < 0.05 ? 0f
                : r < 0.1 ? magnitude * 0.5f
                : (float)((rng.NextDouble() * 2 - 1) * magnitude * Math.Pow(10, -3 * rng.NextDouble()));
        }
        return new NamedTensor(name, shape, data);
    }

    public static IReadOnlyList<NamedTensor> RandomTensors(Random rng, int count)
    {
        var list = new List<NamedTensor>();
        for (var t = 0; t < count; t++)
        {
            var shape = rng.Next(2) == 0
                ? new[] { rng.Next(1, 60) }
                : new[] { rng.Next(1, 40), rng.Next(1, 40) };
            var magnitude = (float)Math.Pow(10, rng.Next(-6, 4));
            list.Add(RandomTensor(rng, $"{2 * t}.weight", shape, magnitude));
        }
        return list;
    }

    public static DeltaHeader Header(Random rng) => new(
        "elec2-head",
        $"1.{rng.Next(0, 1000)}.0",
        $"device-{rng.Next(100)}",
        new Guid(Enumerable.Range(0, 16).Select(_ => (byte)rng.Next(256)).ToArray()),
        rng.Next(1, 100_000),
        new Dictionary<string, double> { ["accuracy"] = rng.NextDouble(), ["loss"] = rng.NextDouble() * 3 },
        DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + rng.Next()));

    public static byte[] ValidPayload(Random rng, DeltaCompressionOptions options, int tensors = 2)
    {
        var dense = RandomTensors(rng, tensors);
        return DeltaCodec.Encode(new WeightDelta(Header(rng), DeltaCompressor.Compress(dense, options)));
    }

    /// <summary>Recomputes the SHA-256 trailer so a deliberately corrupted body reaches the parser instead of the checksum check.</summary>
    public static byte[] Reseal(byte[] payload)
    {
        var hash = SHA256.HashData(payload.AsSpan(0, payload.Length - DeltaCodec.ChecksumLength));
        hash.AsSpan(0, DeltaCodec.ChecksumLength).CopyTo(payload.AsSpan(payload.Length - DeltaCodec.ChecksumLength));
        return payload;
    }

    public static readonly DeltaEncoding[] Encodings = [DeltaEncoding.Int8, DeltaEncoding.Float16, DeltaEncoding.Float32];

    public static readonly double[] Fractions = [0.001, 0.01, 0.1, 0.5, 1.0];
}
