using ContinualLearning.Bundle;
using ContinualLearning.Features;

namespace ContinualLearning.UnitTests.Features;

public sealed class FeaturePipelineTests
{
    private static readonly FeaturePipeline Pipeline = new(new InputSchema(
    [
        new FeatureSpec("a", 2f, 4f),
        new FeatureSpec("b", -1f, 0.5f),
        new FeatureSpec("c", 0f, 1f),
    ]));

    [Fact]
    public void Normalize_applies_x_minus_mean_over_std()
    {
        Span<float> z = stackalloc float[3];

        Pipeline.Normalize([10f, 0f, 7.25f], z);

        Assert.Equal([2f, 2f, 7.25f], z.ToArray()); // (10-2)/4, (0+1)/0.5, (7.25-0)/1
    }

    [Fact]
    public void Dictionary_in_any_order_gives_the_same_vector_as_schema_order()
    {
        var fromSpan = new float[3];
        var fromDict = new float[3];
        Pipeline.Normalize([1.5f, 3f, -2f], fromSpan);

        Pipeline.Normalize(new Dictionary<string, float> { ["c"] = -2f, ["a"] = 1.5f, ["b"] = 3f }, fromDict);

        Assert.Equal(fromSpan, fromDict);
    }

    [Fact]
    public void Wrong_count_names_expected_features()
    {
        var e = Assert.Throws<FeatureValidationException>(() => Pipeline.Normalize([1f, 2f], new float[3]));

        Assert.Contains("2 values but the model expects 3 features (a, b, c)", e.Message);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "∞")]
    public void Non_finite_value_names_feature_index_and_value(float bad, string shown)
    {
        var e = Assert.Throws<FeatureValidationException>(() => Pipeline.Normalize([1f, bad, 2f], new float[3]));

        Assert.Equal("b", e.Feature);
        Assert.Equal(1, e.Index);
        Assert.Contains("Feature 'b' (index 1) is", e.Message);
        Assert.Contains(shown, e.Message.Replace("Infinity", "∞", StringComparison.Ordinal));
    }

    [Fact]
    public void Overflow_after_normalisation_is_rejected()
    {
        var tiny = new FeaturePipeline(new InputSchema([new FeatureSpec("x", 0f, 1e-30f)]));

        var e = Assert.Throws<FeatureValidationException>(() => tiny.Normalize([3e38f], new float[1]));

        Assert.Contains("overflows", e.Message);
    }

    [Fact]
    public void Dictionary_missing_feature_is_named()
    {
        var e = Assert.Throws<FeatureValidationException>(() =>
            Pipeline.Normalize(new Dictionary<string, float> { ["a"] = 1f, ["c"] = 2f }, new float[3]));

        Assert.Equal("b", e.Feature);
        Assert.Contains("Feature 'b' (index 1) is missing", e.Message);
    }

    [Fact]
    public void Dictionary_unknown_feature_is_named()
    {
        var e = Assert.Throws<FeatureValidationException>(() =>
            Pipeline.Normalize(new Dictionary<string, float> { ["a"] = 1f, ["b"] = 1f, ["c"] = 2f, ["temperature"] = 20f }, new float[3]));

        Assert.Equal("temperature", e.Feature);
        Assert.Contains("unknown feature(s) 'temperature'", e.Message);
    }

    [Fact]
    public void Dictionary_non_finite_value_is_named()
    {
        var e = Assert.Throws<FeatureValidationException>(() =>
            Pipeline.Normalize(new Dictionary<string, float> { ["a"] = 1f, ["b"] = 1f, ["c"] = float.NegativeInfinity }, new float[3]));

        Assert.Equal("c", e.Feature);
    }

    [Fact]
    public void Batch_error_names_the_sample()
    {
        float[] raw = [1f, 2f, 3f, 4f, float.NaN, 6f];

        var e = Assert.Throws<FeatureValidationException>(() => Pipeline.NormalizeBatch(raw, 2, new float[6]));

        Assert.StartsWith("Sample 1: Feature 'b'", e.Message);
    }

    [Fact]
    public void Batch_matches_per_sample_normalisation()
    {
        float[] raw = [1f, 2f, 3f, 4f, 5f, 6f];
        var batch = new float[6];
        var single = new float[3];

        Pipeline.NormalizeBatch(raw, 2, batch);
        Pipeline.Normalize(raw.AsSpan(3, 3), single);

        Assert.Equal(single, batch[3..]);
    }

    [Fact]
    public void Too_small_destination_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => Pipeline.Normalize([1f, 2f, 3f], new float[2]));
    }

    [Fact]
    public void Normalize_does_not_allocate()
    {
        var raw = new float[] { 1f, 2f, 3f };
        var dict = new Dictionary<string, float> { ["a"] = 1f, ["b"] = 2f, ["c"] = 3f };
        var z = new float[3];
        Pipeline.Normalize(raw, z);
        Pipeline.Normalize(dict, z); // warm up (JIT, tiering)

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Pipeline.Normalize(raw, z);
            Pipeline.Normalize(dict, z);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Check_reports_without_throwing()
    {
        Assert.Null(Pipeline.Check([1f, 2f, 3f]));
        Assert.Contains("'c' (index 2)", Pipeline.Check([1f, 2f, float.NaN]));
    }
}
