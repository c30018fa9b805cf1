using System.Diagnostics;
using System.Globalization;
using ContinualLearning.Bundle;
using ContinualLearning.Features;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.UnitTests.Bundle;

namespace ContinualLearning.UnitTests.Pipelines;

/// <summary>The speech-embedding pipeline in ONNX Runtime on real espeak-ng clips: shapes, padding, bounds, determinism.</summary>
public sealed class AudioPipelineTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private ModelBundle SaveBundle(PoolMode pool, string name = "kws")
    {
        var models = SpeechTestSupport.RequireModels();
        SpeechBundleBuilder.Save(_tmp.Sub(name), new SpeechBundleOptions
        {
            Name = "keywords",
            LabelNames = ["yes", "no", "seven"],
            Pool = pool,
            SpeechModelDirectory = models,
            CreatedUtc = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        });
        return ModelBundle.Load(_tmp.Sub(name));
    }

    [Theory]
    [InlineData(PoolMode.Mean, 96)]
    [InlineData(PoolMode.Max, 96)]
    [InlineData(PoolMode.MeanMax, 192)]
    public void A_one_second_clip_gives_a_finite_deterministic_embedding_of_the_declared_width(PoolMode pool, int width)
    {
        var bundle = SaveBundle(pool);
        using var pipeline = InputPipelineFactory.Create(bundle);
        var clip = SpeechTestSupport.Clip(16_000);

        var a = new float[pipeline.OutputSize];
        var b = new float[pipeline.OutputSize];
        pipeline.Embed(clip, a);
        pipeline.Embed(clip, b);

        Assert.Equal(InputKind.Audio, pipeline.Kind);
        Assert.Equal(width, pipeline.OutputSize);
        Assert.Equal(width, bundle.Head.InputSize);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(a, b);
        Assert.True(a.Max() - a.Min() > 1e-3f, "A real clip should not embed to a constant vector.");
        // A different clip (silence) embeds differently.
        var silence = new float[pipeline.OutputSize];
        pipeline.Embed(new float[16_000], silence);
        Assert.NotEqual(a, silence);
    }

    [Theory]
    [InlineData(4_800, 16_000)]   // 0.3 s, padded to 1 s
    [InlineData(16_000, 16_000)]  // 1 s
    [InlineData(80_000, 80_000)]  // 5 s
    public void Frames_and_windows_follow_the_clip_length(int samples, int padded)
    {
        var bundle = SaveBundle(PoolMode.Mean);
        using var pipeline = (AudioInputPipeline)InputPipelineFactory.Create(bundle);

        var shapes = pipeline.TraceShapes(SpeechTestSupport.Clip(samples));

        // Mel: 512-sample FFT frames every 160 samples (10 ms), no centre padding → (n − 512) / 160 + 1 frames of 32 bins.
        var frames = (padded - 512) / 160 + 1;
        var windows = (frames - 76) / 8 + 1;
        output.WriteLine($"{samples} samples → mel [{string.Join(", ", shapes[0])}], windows [{string.Join(", ", shapes[2])}], embeddings [{string.Join(", ", shapes[3])}]");
        Assert.Equal([1L, 1, frames, 32], shapes[0]);
        Assert.Equal([1L, 1, frames, 32], shapes[1]);
        Assert.Equal([(long)windows, 76, 32], shapes[2]);
        Assert.Equal([(long)windows, 1, 1, 96], shapes[3]);
        Assert.Equal([1L, 96], shapes[4]);
    }

    [Fact]
    public void A_short_clip_is_zero_padded_to_min_samples()
    {
        var bundle = SaveBundle(PoolMode.MeanMax);
        using var pipeline = InputPipelineFactory.Create(bundle);
        var clip = SpeechTestSupport.Clip(4_800);
        var padded = new float[16_000];
        clip.CopyTo(padded, 0);

        var a = new float[pipeline.OutputSize];
        var b = new float[pipeline.OutputSize];
        pipeline.Embed(clip, a);
        pipeline.Embed(padded, b);

        Assert.Equal(b, a);
    }

    [Fact]
    public void Over_long_empty_and_non_finite_clips_are_refused_with_the_limit_named()
    {
        var bundle = SaveBundle(PoolMode.Mean);
        using var pipeline = InputPipelineFactory.Create(bundle);
        var output = new float[pipeline.OutputSize];

        var tooLong = Assert.Throws<FeatureValidationException>(() => pipeline.Embed(new float[160_001], output));
        Assert.Contains("160001 samples", tooLong.Message, StringComparison.Ordinal);
        Assert.Contains("at most 160000", tooLong.Message, StringComparison.Ordinal);
        Assert.Contains("empty", Assert.Throws<FeatureValidationException>(() => pipeline.Embed([], output)).Message, StringComparison.Ordinal);
        var clip = new float[16_000];
        clip[7] = float.NaN;
        Assert.Contains("sample 7", Assert.Throws<FeatureValidationException>(() => pipeline.Embed(clip, output)).Message, StringComparison.Ordinal);
        // The longest accepted clip still runs.
        pipeline.Embed(new float[160_000], output);
    }

    [Fact]
    public void Embedding_width_that_disagrees_with_the_manifest_is_refused_when_the_pipeline_is_built()
    {
        var models = SpeechTestSupport.RequireModels();
        var options = new SpeechBundleOptions { Name = "kws", LabelNames = ["a", "b"], Pool = PoolMode.Mean, SpeechModelDirectory = models };
        var manifest = SpeechBundleBuilder.Manifest(options);
        // Claim 192 (mean+max) while the stages pool with mean (96).
        manifest = manifest with
        {
            InputSchema = manifest.InputSchema with { EmbeddingSize = 192 },
            Head = new ContinualLearning.Training.HeadSpec([192, 2], ContinualLearning.Training.LossKind.SoftmaxCrossEntropy),
        };
        ModelBundle.Save(_tmp.Sub("bad"), manifest, ContinualLearning.Training.HeadInitializer.Initialize(manifest.Head, 1),
            stageFiles: manifest.InputSchema.StageFiles.ToDictionary(f => f, f => Path.Combine(models, f)));

        var e = Assert.Throws<BundleException>(() => InputPipelineFactory.Create(ModelBundle.Load(_tmp.Sub("bad"))));
        Assert.Equal("inputSchema.stages", e.Field);
        Assert.Contains("produce 96 floats", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_speech_models_name_the_variable_and_the_default()
    {
        var empty = _tmp.Sub("empty");
        Directory.CreateDirectory(empty);
        var fromVariable = Assert.Throws<FileNotFoundException>(() => SpeechModels.Locate(v => v == SpeechModels.EnvironmentVariable ? empty : null));
        Assert.Contains(empty, fromVariable.Message, StringComparison.Ordinal);
        Assert.Contains("CL_SPEECH_MODELS", fromVariable.Message, StringComparison.Ordinal);
        Assert.Null(SpeechModels.TryLocate(v => v == SpeechModels.EnvironmentVariable ? empty : null));
        var unset = SpeechModels.TryLocate(_ => null);
        if (unset is null)
        {
            var fromDefault = Assert.Throws<FileNotFoundException>(() => SpeechModels.Locate(_ => null));
            Assert.Contains(SpeechModels.DefaultDirectory, fromDefault.Message, StringComparison.Ordinal);
            Assert.Contains("CL_SPEECH_MODELS", fromDefault.Message, StringComparison.Ordinal);
        }
        // The build copies the models beside the tests: missing there is a failure under CL_REQUIRE_SPEECH=1.
        SpeechTestSupport.Speech.Require(unset is not null);
    }

    [Fact]
    public void Measure_ms_per_one_second_clip_on_one_intra_op_thread()
    {
        // A figure for the report, not a timed assertion: p50/p99 of the whole pipeline (mel + 3 windows + pool).
        var bundle = SaveBundle(PoolMode.MeanMax);
        using var pipeline = InputPipelineFactory.Create(bundle);
        var clip = SpeechTestSupport.Clip(16_000);
        var embedding = new float[pipeline.OutputSize];
        for (var i = 0; i < 5; i++) pipeline.Embed(clip, embedding);
        var times = new double[100];
        for (var i = 0; i < times.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            pipeline.Embed(clip, embedding);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"speech pipeline, 1 s clip, IntraOpNumThreads=1: p50 {times[49]:0.00} ms, p99 {times[98]:0.00} ms, max {times[^1]:0.00} ms over {times.Length} runs"));
        Assert.All(embedding, v => Assert.True(float.IsFinite(v)));
    }
}
