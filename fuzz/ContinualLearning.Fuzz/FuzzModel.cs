using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Training;

namespace ContinualLearning.Fuzz;

/// <summary>
/// The small model every target and seed refers to (3 features, head 3→8→2, as the test kit's), its bundle
/// container, and the signed release of that container. Deterministic, so the committed chunk seeds match the
/// release the chunk target builds at start.
/// </summary>
internal static class FuzzModel
{
    public const string Name = "fuzz";
    public const string Version = "1.0.0";

    /// <summary>Small chunks, so the seed bundle is several chunks and reordering/duplication are reachable.</summary>
    public const int ChunkSize = 1024;

    public static HeadSpec Head { get; } = new([3, 8, 2], LossKind.SoftmaxCrossEntropy);

    public static ModelManifest Manifest { get; } = new()
    {
        Name = Name,
        Version = Version,
        CreatedUtc = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        InputSchema = new InputSchema([new FeatureSpec("f1", 5f, 2.9f), new FeatureSpec("f2", 5f, 2.9f), new FeatureSpec("f3", 5f, 2.9f)]),
        Task = TaskSpec.Classification("DOWN", "UP"),
        Head = Head,
        Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f }, BatchSize = 16 },
    };

    private static readonly Lazy<byte[]> LazyContainer = new(BuildContainer);

    /// <summary>The model's bundle as the deterministic tar container a release carries.</summary>
    public static byte[] Container => LazyContainer.Value;

    /// <summary>The release of <see cref="Container"/> in chunks of <see cref="ChunkSize"/>, signed by <paramref name="key"/>.</summary>
    public static Release SignedRelease(ECDsa key) =>
        ReleaseSigner.Sign(BundlePackager.CreateRelease(Container, Name, Version, "all", ChunkSize) with { CreatedAt = DateTimeOffset.UnixEpoch }, key);

    private static byte[] BuildContainer()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"cl-fuzz-model-{Environment.ProcessId}");
        try
        {
            ModelBundle.Save(directory, Manifest, HeadInitializer.Initialize(Head, seed: 1), overwrite: true);
            return BundlePackager.Pack(directory);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}
