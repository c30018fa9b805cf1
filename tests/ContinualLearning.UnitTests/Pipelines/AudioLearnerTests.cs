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

    private ModelBundle SaveRelease(string name, PoolMode pool, string version = "1.0.0")
    {
        SpeechBundleBuilder.Save(_tmp.Sub(name), new SpeechBundleOptions
        {
            Name = "keywords", Version = version, LabelNames = ["yes", "no", "seven"], Pool = pool,
            SpeechModelDirectory = SpeechTestSupport.RequireModels(),
            Training = new TrainingDefaults { Options = new TrainingOptions { LearningRate = 0.01f } },
        });
        return ModelBundle.Load(_tmp.Sub(name));
    }

    private async Task<ContinualLearner> OpenAsync(PoolMode pool = PoolMode.MeanMax)
    {
        SaveRelease("base", pool);
        var options = new LearnerOptions
        {
            ModelStoreDirectory = _tmp.Sub("models"),
            BaseBundlePath = _tmp.Sub("base"),
            StorePath = Path.Combine(_shm, "samples.db"),
            Challenger = new ChallengerOptions { MinSamples = 40, Epochs = 20 },
        };
        return await ContinualLearner.OpenAsync(options, new ManagedEngine());
    }

    /// <summary>The tone-plus-word clip with white noise, or the noise and tone alone ("no").</summary>
    private static float[] Noisy(bool word, int seed)
    {
        var rng = new Random(seed);
        var clip = word ? SpeechTestSupport.Clip(16_000) : new float[16_000];
        for (var i = 0; i < clip.Length; i++) clip[i] += (float)(rng.NextDouble() - 0.5) * 600;
        return clip;
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

    [Fact]
    public async Task A_promoted_audio_champion_keeps_its_stage_files_and_a_new_pooling_release_wipes_the_samples()
    {
        await using var learner = await OpenAsync(PoolMode.MeanMax);
        for (var i = 0; i < 60; i++)
            learner.AddLabelled(Noisy(word: i % 2 == 0, seed: i), i % 2 == 0 ? "seven" : "no");

        var run = await learner.TrainNowAsync("test");

        Assert.NotNull(run);
        Assert.True(run.Promoted, $"champion {run.Decision.ChampionMetric:0.000} vs challenger {run.Decision.ChallengerMetric:0.000}");
        var champion = learner.Checkpoints.LoadChampion();
        Assert.Equal(learner.ModelVersion, champion.Manifest.Version);
        Assert.NotEqual("1.0.0", champion.Manifest.Version);
        Assert.Equal(["embedding_model.onnx", "melspectrogram.onnx"], champion.StageFiles.Keys.Order());
        Assert.Equal("seven", learner.Predict(Noisy(word: true, seed: 1000)).LabelName);

        // Same stages, new head: the stored embeddings stay valid.
        await learner.RebaseAsync(SaveRelease("same", PoolMode.MeanMax, "1.1.0"));
        Assert.True(learner.Status.StoredSamples > 0);
        // Mean pooling instead of mean+max: another representation, so the samples are wiped and serving switches.
        await learner.RebaseAsync(SaveRelease("mean", PoolMode.Mean, "2.0.0"));
        Assert.Equal(0, learner.Status.StoredSamples);
        learner.AddLabelled(Noisy(word: true, seed: 7), "seven");
        Assert.Equal(96, learner.Store.TakeFreshBatch(5).Single().Features.Length);
    }

    [Fact]
    public void Stages_files_and_kind_count_as_a_representation_change()
    {
        var a = SaveRelease("a", PoolMode.MeanMax).Manifest;

        Assert.False(LearnerSampleStore.RepresentationChanged(a, a with { Version = "1.0.1" }));
        var stages = a.InputSchema.Stages.ToArray();
        stages[1] = new AffineStageSpec(0.1f, 2.5f);
        Assert.True(LearnerSampleStore.RepresentationChanged(a, a with { InputSchema = a.InputSchema with { Stages = stages } }));
        Assert.True(LearnerSampleStore.RepresentationChanged(a, a with { InputSchema = a.InputSchema with { Audio = new AudioInputSpec(16_000, 8_000, 160_000) } }));
        var files = new SortedDictionary<string, string>(a.Files.ToDictionary(), StringComparer.Ordinal) { ["embedding_model.onnx"] = new string('b', 64) };
        Assert.True(LearnerSampleStore.RepresentationChanged(a, a with { Files = files }));
        var features = TestBundles.Manifest();
        Assert.True(LearnerSampleStore.RepresentationChanged(features, features with { InputSchema = features.InputSchema with { Kind = InputKind.Audio } }));
    }
}
