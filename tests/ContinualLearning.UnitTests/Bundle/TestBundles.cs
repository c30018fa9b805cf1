using ContinualLearning.Bundle;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Bundle;

/// <summary>Shared builders for bundle tests.</summary>
internal static class TestBundles
{
    public static ModelManifest Manifest(int hidden = 4) => new()
    {
        Name = "elec2",
        Version = "1.2.0",
        ParentVersion = "1.1.0",
        CreatedUtc = new DateTime(2025, 1, 31, 12, 0, 0, DateTimeKind.Utc),
        InputSchema = new InputSchema([new FeatureSpec("nswprice", 0.05f, 0.02f), new FeatureSpec("nswdemand", 0.4f, 0.15f), new FeatureSpec("period", 0.5f, 0.29f)]),
        Task = TaskSpec.Classification("DOWN", "UP"),
        Head = new HeadSpec([3, hidden, 2], LossKind.SoftmaxCrossEntropy),
        Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05f, Momentum = 0.9f }, BatchSize = 16 },
    };

    public static NamedTensor[] Weights(HeadSpec spec, int seed = 1)
    {
        var rng = new Random(seed);
        return spec.Parameters()
            .Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Range(0, p.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()))
            .ToArray();
    }
}

/// <summary>A unique temp directory deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => System.IO.Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cl-bundle-tests", Guid.NewGuid().ToString("N"));

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
