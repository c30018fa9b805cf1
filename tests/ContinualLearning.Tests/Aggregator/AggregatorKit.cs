using System.Security.Cryptography;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>Registry seeded with a released SEA model 1.0.0, a fleet key pair, and delta builders.</summary>
internal sealed class AggregatorKit : IDisposable
{
    public const string Model = "sea";

    public static HeadSpec Head { get; } = new([3, 8, 2], LossKind.SoftmaxCrossEntropy);

    public AggregatorKit(IReadOnlyList<NamedTensor>? initialWeights = null)
    {
        Directory.CreateDirectory(Root);
        var bundleDir = Path.Combine(Root, "seed");
        ModelBundle.Save(bundleDir, Manifest("1.0.0"), initialWeights ?? HeadInitializer.Initialize(Head, 1));
        using (var registry = ModelRegistry.Open(RegistryPath))
            RegistryModels.Import(registry, bundleDir, VersionStatus.Released);
        using var key = ReleaseKeys.Generate();
        ReleaseKeys.Save(key, PrivateKeyPath, PublicKeyPath);
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cl-agg-it", Guid.NewGuid().ToString("N"));

    public string RegistryPath => Path.Combine(Root, "registry");

    public string PrivateKeyPath => Path.Combine(Root, "release.key");

    public string PublicKeyPath => Path.Combine(Root, "release.pub");

    public static ModelManifest Manifest(string version) => new()
    {
        Name = Model,
        Version = version,
        CreatedUtc = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        InputSchema = new InputSchema([new FeatureSpec("f1", 5, 2.9f), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f)]),
        Task = TaskSpec.Classification("0", "1"),
        Head = Head,
        Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f } },
    };

    public AggregatorOptions Options(int port, string fleet, string instance, Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var o = new AggregatorOptions
        {
            Fleet = fleet,
            ModelName = Model,
            RegistryPath = RegistryPath,
            PrivateKeyPath = PrivateKeyPath,
            BrokerPort = port,
            InstanceId = instance,
            SharedSubscription = true,
            Aggregation = new AggregationOptions { BufferSize = 1000, MaxWait = TimeSpan.FromHours(1) },
            Rollout = new RolloutOptions { Canary = false },
            Tick = TimeSpan.FromMilliseconds(100),
        };
        return configure is null ? o : configure(o);
    }

    public static byte[] Delta(string device, Guid id, string baseVersion = "1.0.0", float value = 0.001f, long samples = 10) =>
        Encode(device, id, baseVersion, samples, Head.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(value, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray())).ToArray());

    public static byte[] Encode(string device, Guid id, string baseVersion, long samples, IReadOnlyList<NamedTensor> dense)
    {
        var tensors = DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseFloat32);
        return DeltaCodec.Encode(new WeightDelta(new DeltaHeader(Model, baseVersion, device, id, samples, new Dictionary<string, double>(), DateTimeOffset.UtcNow), tensors));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Wait
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static Task Until(Func<bool> condition, string what) => Until(condition, () => what);

    public static async Task Until(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for: {what()}");
            await Task.Delay(50);
        }
    }
}
