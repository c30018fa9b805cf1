using ContinualLearning.Deltas;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Deltas;

public class DeltaCodecPropertyTests
{
    private const int Cases = 300;

    [Fact]
    public void Compress_then_decode_stays_within_the_quantisation_bound()
    {
        var rng = new Random(12345);
        for (var c = 0; c < Cases; c++)
        {
            var dense = DeltaTestData.RandomTensors(rng, rng.Next(1, 4));
            var options = new DeltaCompressionOptions(
                DeltaTestData.Fractions[rng.Next(DeltaTestData.Fractions.Length)],
                DeltaTestData.Encodings[rng.Next(DeltaTestData.Encodings.Length)]);
            var header = DeltaTestData.Header(rng);
            var compressed = DeltaCompressor.Compress(dense, options);
            var decoded = DeltaCodec.Decode(DeltaCodec.Encode(new WeightDelta(header, compressed)));

            Assert.Equal(dense.Count, decoded.Tensors.Count);
            for (var t = 0; t < dense.Count; t++)
            {
                var original = dense[t];
                var sent = decoded.Tensors[t];
                var context = $"case {c}, {options}, tensor {sent}";
                Assert.Equal(original.Name, sent.Name);
                Assert.Equal(original.Shape, sent.Shape);
                Assert.Equal(DeltaCompressor.TopKCount(original.Count, options.Fraction), sent.Count);
                Assert.Equal(options.IsDense, sent.Indices is null);
                // The wire reproduces the compressor's dequantised values exactly.
                Assert.Equal(compressed[t].Values, sent.Values);
                Assert.Equal(compressed[t].Indices, sent.Indices);

                var indices = sent.Indices ?? Enumerable.Range(0, original.Count).ToArray();
                for (var i = 0; i < indices.Length; i++)
                {
                    if (i > 0) Assert.True(indices[i] > indices[i - 1], context);
                    var v = original.Data[indices[i]];
                    var err = Math.Abs((double)v - sent.Values[i]);
                    var bound = options.Encoding switch
                    {
                        DeltaEncoding.Int8 => sent.Scale / 2.0 * (1 + 1e-5) + 1e-30,
                        // Half rounds to 11 significant bits; below its normal range the absolute step is scale·2^-25.
                        DeltaEncoding.Float16 => Math.Max(Math.Abs(v) * Math.Pow(2, -11), sent.Scale * Math.Pow(2, -25)) * (1 + 1e-6),
                        _ => 0.0,
                    };
                    Assert.True(err <= bound, $"{context}: value {v} decoded as {sent.Values[i]} (error {err} > bound {bound})");
                }

                // Top-k really is top-k: nothing left out is larger in magnitude than what was sent.
                if (sent.Indices is { } idx)
                {
                    var sentSet = idx.ToHashSet();
                    var minSent = idx.Min(i => Math.Abs(original.Data[i]));
                    for (var i = 0; i < original.Count; i++)
                        if (!sentSet.Contains(i))
                            Assert.True(Math.Abs(original.Data[i]) <= minSent, $"{context}: unsent element {i} = {original.Data[i]} beats sent minimum {minSent}");
                }
            }

            Assert.Equal(header.ModelName, decoded.Header.ModelName);
            Assert.Equal(header.BaseVersion, decoded.Header.BaseVersion);
            Assert.Equal(header.DeviceId, decoded.Header.DeviceId);
            Assert.Equal(header.DeltaId, decoded.Header.DeltaId);
            Assert.Equal(header.SampleCount, decoded.Header.SampleCount);
            Assert.Equal(header.CreatedAt, decoded.Header.CreatedAt);
            Assert.Equal(header.Metrics.OrderBy(k => k.Key), decoded.Header.Metrics.OrderBy(k => k.Key));
        }
    }

    [Fact]
    public void Dense_fp32_round_trip_is_lossless_and_apply_restores_the_challenger()
    {
        var rng = new Random(7);
        var baseWeights = DeltaTestData.RandomTensors(rng, 3);
        var challenger = baseWeights.Select(t => new NamedTensor(t.Name, t.Shape, t.Data.Select(v => v + (float)rng.NextDouble() - 0.5f).ToArray())).ToArray();
        var delta = Delta.Compute(challenger, baseWeights);
        var wire = DeltaCodec.Encode(new WeightDelta(DeltaTestData.Header(rng), DeltaCompressor.Compress(delta, DeltaCompressionOptions.DenseFloat32)));
        var decoded = DeltaCodec.Decode(wire);
        var restored = Delta.Apply(baseWeights, decoded);
        for (var t = 0; t < challenger.Length; t++)
            for (var i = 0; i < challenger[t].Count; i++)
                Assert.Equal(baseWeights[t].Data[i] + delta[t].Data[i], restored[t].Data[i]);
        Assert.Equal(Delta.L2Norm(delta), Delta.L2Norm(decoded), 6);
    }

    [Fact]
    public void L2Norm_matches_the_definition()
    {
        var t = new NamedTensor("w", [2, 2], [3f, 0f, 0f, 4f]);
        Assert.Equal(5.0, Delta.L2Norm([t]));
    }

    [Theory]
    [InlineData(100, 0.01, 1)]
    [InlineData(35_000, 0.01, 350)]
    [InlineData(10, 0.001, 1)]
    [InlineData(10, 1.0, 10)]
    [InlineData(3, 0.5, 2)]
    public void TopKCount_is_ceiling_of_fraction_and_at_least_one(int n, double fraction, int expected) =>
        Assert.Equal(expected, DeltaCompressor.TopKCount(n, fraction));

    [Fact]
    public void Compress_refuses_non_finite_input_naming_the_tensor()
    {
        var t = new NamedTensor("2.bias", [3], [0f, float.NaN, 1f]);
        var ex = Assert.Throws<ArgumentException>(() => DeltaCompressor.Compress([t], new DeltaCompressionOptions()));
        Assert.Contains("2.bias", ex.Message);
    }

    [Fact]
    public void Decode_checks_the_expected_model_spec()
    {
        var rng = new Random(3);
        var w = new NamedTensor("0.weight", [4, 3], new float[12]);
        var b = new NamedTensor("0.bias", [4], new float[4]);
        var wire = DeltaCodec.Encode(new WeightDelta(DeltaTestData.Header(rng), DeltaCompressor.Compress([w, b], new DeltaCompressionOptions(0.5))));

        DeltaCodec.Decode(wire, new DeltaDecodeOptions { ExpectedTensors = [("0.weight", [4, 3]), ("0.bias", [4])] });

        var shape = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(wire, new DeltaDecodeOptions { ExpectedTensors = [("0.weight", [3, 4]), ("0.bias", [4])] }));
        Assert.Equal("0.weight", shape.TensorName);
        Assert.Contains("[4, 3]", shape.Message);

        var unknown = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(wire, new DeltaDecodeOptions { ExpectedTensors = [("0.weight", [4, 3])] }));
        Assert.Equal("0.bias", unknown.TensorName);

        var missing = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(wire, new DeltaDecodeOptions { ExpectedTensors = [("0.weight", [4, 3]), ("0.bias", [4]), ("2.weight", [2, 4])] }));
        Assert.Contains("2.weight", missing.Message);
    }
}
