using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Onnx;
using ContinualLearning.Streams;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>A bundle with backbone.onnx: the learner embeds with ONNX Runtime, trains the head on embeddings, and keeps embeddings in replay.</summary>
public sealed class BackboneLearnerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cl-backbone-learner", Guid.NewGuid().ToString("N"));
    private readonly string _shm = Path.Combine("/dev/shm", $"cl-backbone-learner-{Guid.NewGuid():N}");

    public void Dispose()
    {
        foreach (var d in new[] { _root, _shm })
            try { Directory.Delete(d, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Learner_runs_the_onnx_backbone_and_trains_the_head_on_its_embeddings()
    {
        Directory.CreateDirectory(_root);
        // A real ONNX backbone: a frozen random 3→12 ReLU layer exported by our exporter (identity output).
        var backboneSpec = new HeadSpec([3, 12, 12], LossKind.MeanSquaredError);
        var backbonePath = Path.Combine(_root, "backbone.onnx");
        OnnxExporter.ExportHead(backboneSpec, HeadInitializer.Initialize(backboneSpec, seed: 11), backbonePath);

        var head = new HeadSpec([12, 16, 2], LossKind.SoftmaxCrossEntropy);
        var manifest = new ModelManifest
        {
            Name = "sea-backbone",
            Version = "1.0.0",
            CreatedUtc = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            InputSchema = new InputSchema([new FeatureSpec("f1", 5, 2.9f), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f)], EmbeddingSize: 12),
            Task = TaskSpec.Classification("0", "1"),
            Head = head,
            Training = new TrainingDefaults { Options = new TrainingOptions { LearningRate = 0.01f } },
        };
        var basePath = Path.Combine(_root, "base");
        ModelBundle.Save(basePath, manifest, HeadInitializer.Initialize(head, seed: 5), backbonePath);

        var options = new LearnerOptions
        {
            ModelStoreDirectory = Path.Combine(_root, "models"),
            BaseBundlePath = basePath,
            StorePath = Path.Combine(_shm, "samples.db"),
            Challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 1000, Epochs = 5 },
        };
        await using var learner = await ContinualLearner.OpenAsync(options, new ManagedEngine());
        var stream = new SeaGenerator(1, noise: 0.0, seed: 3).Limit(1500).ToArray();
        var before = 0;
        foreach (var s in stream)
        {
            var p = learner.Predict(s.Features);
            before += p.LabelIndex == s.Label ? 1 : 0;
            Assert.Equal(2, p.Probabilities.Length);
            learner.Label(p.SampleId, s.Label);
        }
        var run = await learner.TrainNowAsync("test");
        Assert.NotNull(run);
        output.WriteLine($"untrained head accuracy {before / 1500.0:0.000}; champion {run.Decision.ChampionMetric:0.000} challenger {run.Decision.ChallengerMetric:0.000}; {(run.Promoted ? "promoted" : "discarded")}; replay {learner.Status.ReplaySize}");
        Assert.True(run.Decision.TrainSamples > 0);
        Assert.True(run.Promoted, "Training the head on backbone embeddings should beat the random initial head.");
        Assert.True(run.Decision.ChallengerMetric > run.Decision.ChampionMetric);
        Assert.True(learner.Status.ReplaySize > 0);
    }
}
