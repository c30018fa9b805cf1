using System.Security.Cryptography;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>A registry directory seeded with a released 1.0.0 model and a fleet key pair, plus delta builders.</summary>
internal sealed class AggregatorTestKit : IDisposable
{
    public const string Model = "sea";

    public AggregatorTestKit()
    {
        Directory.CreateDirectory(Root);
        var bundleDir = Path.Combine(Root, "seed");
        ModelBundle.Save(bundleDir, Manifest("1.0.0"), Weights(Head, 1));
        using (var registry = ModelRegistry.Open(RegistryPath))
            RegistryModels.Import(registry, bundleDir, VersionStatus.Released);
        using var key = ReleaseKeys.Generate();
        ReleaseKeys.Save(key, PrivateKeyPath, PublicKeyPath);
    }

    public static HeadSpec Head { get; } = new([3, 4, 2], LossKind.SoftmaxCrossEntropy);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cl-agg-tests", Guid.NewGuid().ToString("N"));

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

    public static NamedTensor[] Weights(HeadSpec spec, int seed, float scale = 0.5f)
    {
        var rng = new Random(seed);
        return spec.Parameters()
            .Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Range(0, p.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => ((float)rng.NextDouble() - 0.5f) * 2 * scale).ToArray()))
            .ToArray();
    }

    public AggregatorOptions Options(int brokerPort, Func<AggregatorOptions, AggregatorOptions>? configure = null, string fleet = "f")
    {
        var o = new AggregatorOptions
        {
            Fleet = fleet,
            ModelName = Model,
            RegistryPath = RegistryPath,
            PrivateKeyPath = PrivateKeyPath,
            BrokerPort = brokerPort,
            InstanceId = "agg-" + Guid.NewGuid().ToString("N")[..8],
            Aggregation = new AggregationOptions { BufferSize = 100, MaxWait = TimeSpan.FromHours(1) },
            Tick = TimeSpan.FromMilliseconds(100),
        };
        return configure is null ? o : configure(o);
    }

    /// <summary>An fp32 dense delta with the given per-element value pattern.</summary>
    public static byte[] EncodeDelta(string device, string baseVersion = "1.0.0", Guid? id = null, long samples = 10, float value = 0.01f,
        string model = Model, HeadSpec? head = null, Func<int, float>? pattern = null)
    {
        var tensors = (head ?? Head).Parameters().Select(p =>
        {
            var n = p.Shape.Aggregate(1, (a, b) => a * b);
            var values = Enumerable.Range(0, n).Select(i => pattern?.Invoke(i) ?? value).ToArray();
            return new TensorDelta(p.Name, p.Shape, DeltaEncoding.Float32, 1f, null, values);
        }).ToArray();
        var header = new DeltaHeader(model, baseVersion, device, id ?? Guid.NewGuid(), samples, new Dictionary<string, double>(), DateTimeOffset.UtcNow);
        return DeltaCodec.Encode(new WeightDelta(header, tensors));
    }

    /// <summary>A delta whose first value is NaN: the encoder refuses that, so patch the bytes and re-seal the checksum.</summary>
    public static byte[] EncodeNaNDelta(string device)
    {
        var bytes = EncodeDelta(device, value: 0.25f);
        var marker = BitConverter.GetBytes(0.25f);
        var at = bytes.AsSpan().IndexOf(marker);
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, at);
        var body = bytes.Length - DeltaCodec.ChecksumLength;
        SHA256.HashData(bytes.AsSpan(0, body)).AsSpan(0, DeltaCodec.ChecksumLength).CopyTo(bytes.AsSpan(body));
        return bytes;
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
