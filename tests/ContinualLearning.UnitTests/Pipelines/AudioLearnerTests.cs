using ContinualLearning.Bundle;
using ContinualLearning.Features;
using ContinualLearning.Learning;
using ContinualLearning.Onnx;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;
using ContinualLearning.UnitTests.Bundle;

namespace ContinualLearning.UnitTests.Pipelines;

/// <summary>An audio model in the learner: PCM in, the embedding (never the PCM) logged, one pipeline for both paths.</summary>
public sealed class AudioLearnerTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly string _shm = Path.Combine("/dev/shm", $"cl-audio-learner-{Guid.NewGuid():N}");

    public void Dispose()
    {
        _tmp.Dispose();
        try { Directory.Delete(_shm, recursive: true); } catch (IOException) { }
    }

    private async Task<ContinualLearner> OpenAsync(PoolMode pool = PoolMode.MeanMax)
    {
        var models = SpeechTestSupport.RequireModels();
        SpeechBundleBuilder.Save(_tmp.Sub("base"), new SpeechBundleOptions
        {
            Name = "keywords", LabelNames = ["yes", "no", "seven"], Pool = pool, SpeechModelDirectory = models,
        });
        var options = new LearnerOptions
        {
            ModelStoreDirectory = _tmp.Sub("models"),
            BaseBundlePath = _tmp.Sub("base"),
            StorePath = Path.Combine(_shm, "samples.db"),
        };
        return await ContinualLearner.OpenAsync(options, new ManagedEngine());
    }

    [Fact]
    public async Task Predict_and_AddLabelled_take_pcm_and_store_the_embedding()
    {
        await using var learner = await OpenAsync();
        var clip = SpeechTestSupport.Clip(16_000);
        using var pipeline = InputPipelineFactory.Create(ModelBundle.Load(_tmp.Sub("base")));
        var expected = new float[pipeline.OutputSize];
        pipeline.Embed(clip, expected);

        var prediction = learner.Predict(clip);
        learner.Label(prediction.SampleId, "seven");
        learner.AddLabelled(SpeechTestSupport.Clip(8_000), "yes");

        Assert.Equal(InputKind.Audio, learner.InputKind);
        Assert.Equal(SpeechModels.Audio, learner.AudioInput);
        Assert.Equal(3, prediction.Probabilities.Length);
        Assert.InRange(prediction.Probabilities.Sum(), 0.999f, 1.001f);
        var stored = learner.Store.TakeFreshBatch(10);
        Assert.Equal(2, stored.Count);
        // The store holds the 192-d head input, never the 16,000 PCM samples.
        Assert.All(stored, s => Assert.Equal(192, s.Features.Length));
        Assert.Contains(stored, s => s.Features.SequenceEqual(expected));
    }

    [Fact]
    public async Task Named_features_and_bad_clips_on_an_audio_model_are_refused_clearly()
    {
        await using var learner = await OpenAsync(PoolMode.Mean);

        var named = Assert.Throws<FeatureValidationException>(() => learner.Predict(new Dictionary<string, float> { ["x"] = 1 }));
        Assert.Contains("audio", named.Message, StringComparison.Ordinal);
        Assert.Throws<FeatureValidationException>(() => learner.Predict(new float[160_001]));
        Assert.Throws<FeatureValidationException>(() => learner.AddLabelled(ReadOnlySpan<float>.Empty, "yes"));
        Assert.Equal(0, learner.Status.StoredSamples);
    }

    [Fact]
    public async Task Feature_models_report_feature_input()
    {
        var m = TestBundles.Manifest();
        ModelBundle.Save(_tmp.Sub("features"), m, TestBundles.Weights(m.Head));
        await using var learner = await ContinualLearner.OpenAsync(new LearnerOptions
        {
            ModelStoreDirectory = _tmp.Sub("fmodels"),
            BaseBundlePath = _tmp.Sub("features"),
            StorePath = Path.Combine(_shm, "features.db"),
        }, new ManagedEngine());

        var p = learner.Predict([0.05f, 0.4f, 0.5f]);

        Assert.Equal(InputKind.Features, learner.InputKind);
        Assert.Null(learner.AudioInput);
        Assert.Equal(2, p.Probabilities.Length);
    }
}
