using ContinualLearning.Deltas;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Deltas;

/// <summary><see cref="DeltaHeader.Labels"/> on the wire: the optional section after the tensors, bounded and validated.</summary>
public sealed class DeltaLabelsTests
{
    private static WeightDelta Delta(IReadOnlyList<string>? labels)
    {
        var tensors = DeltaCompressor.Compress([new NamedTensor("2.bias", [3], [0.1f, -0.2f, 0.3f])], DeltaCompressionOptions.DenseFloat32);
        var header = new DeltaHeader("kws", "1.0.0", "dev-1", new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"), 5,
            new Dictionary<string, double>(), DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), labels);
        return new WeightDelta(header, tensors);
    }

    private static byte[] Reseal(byte[] bytes) => Aggregator.LabelledDeltas.Reseal(bytes);

    [Fact]
    public void Labels_round_trip_and_a_delta_without_them_is_the_format_it_always_was()
    {
        var plain = DeltaCodec.Encode(Delta(null));
        var labelled = DeltaCodec.Encode(Delta(["yes", "no", "héllo"]));

        Assert.Null(DeltaCodec.Decode(plain).Header.Labels);
        Assert.Equal(["yes", "no", "héllo"], DeltaCodec.Decode(labelled).Header.Labels);
        // The section is appended after the last tensor: everything before it is byte for byte the unlabelled body,
        // so a payload from a sender that knows nothing of labels decodes with Labels = null.
        var body = plain.Length - DeltaCodec.ChecksumLength;
        Assert.Equal(plain.AsSpan(0, body).ToArray(), labelled.AsSpan(0, body).ToArray());
        Assert.Equal([DeltaLabels.SectionTag, 3, 3, (byte)'y'], labelled.AsSpan(body, 4).ToArray());
    }

    [Theory]
    [InlineData(new string[0], "the label list is empty")]
    [InlineData(new[] { "a", " " }, "label 1 is empty")]
    [InlineData(new[] { "a", "b", "a" }, "label 2 ('a') appears twice")]
    public void The_encoder_refuses_labels_a_manifest_would_refuse(string[] labels, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => DeltaCodec.Encode(Delta(labels)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Names_and_counts_are_bounded()
    {
        var e = Assert.Throws<ArgumentException>(() => DeltaCodec.Encode(Delta(["a", new string('x', DeltaLabels.MaxNameBytes + 1)])));
        Assert.Contains($"is {DeltaLabels.MaxNameBytes + 1} bytes in UTF-8, over the limit of {DeltaLabels.MaxNameBytes}", e.Message);
        e = Assert.Throws<ArgumentException>(() => DeltaCodec.Encode(Delta(Enumerable.Range(0, DeltaLabels.MaxCount + 1).Select(i => $"c{i}").ToArray())));
        Assert.Contains($"{DeltaLabels.MaxCount + 1} labels, over the limit of {DeltaLabels.MaxCount}", e.Message);
        Assert.Equal(DeltaLabels.MaxCount, DeltaCodec.Decode(DeltaCodec.Encode(Delta(Enumerable.Range(0, DeltaLabels.MaxCount).Select(i => $"c{i}").ToArray()))).Header.Labels!.Count);
    }

    [Fact]
    public void The_decoder_refuses_bad_sections_by_name()
    {
        var labelled = DeltaCodec.Encode(Delta(["a", "bb"]));
        var body = labelled.Length - DeltaCodec.ChecksumLength;
        var tag = body - 7; // tag, count, 1 "a", 2 "bb"

        var unknown = (byte[])labelled.Clone();
        unknown[tag] = 7;
        var e = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(Reseal(unknown)));
        Assert.Contains("section tag 7 is unknown", e.Message);

        var empty = (byte[])labelled.Clone();
        empty[body - 2] = (byte)' ';
        empty[body - 1] = (byte)' ';
        e = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(Reseal(empty)));
        Assert.True(e.InLabels);
        Assert.Contains("label 1 is empty", e.Message);

        // One label fewer than the count says: the reader runs out of bytes.
        var truncated = (byte[])labelled.Clone();
        truncated[tag + 1] = 3;
        e = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(Reseal(truncated)));
        Assert.Contains("label 2", e.Message);

        // One label more than the count says: trailing bytes.
        var trailing = (byte[])labelled.Clone();
        trailing[tag + 1] = 1;
        e = Assert.Throws<DeltaFormatException>(() => DeltaCodec.Decode(Reseal(trailing)));
        Assert.Contains("unexpected bytes after its labels", e.Message);
    }
}
