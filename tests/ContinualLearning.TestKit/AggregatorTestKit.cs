using System.Security.Cryptography;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.TestKit;

/// <summary>
/// A registry directory seeded with a released SEA model 1.0.0 and a fleet key pair, plus delta builders. Deleted on
/// dispose. Shared by both test projects: the in-process tests use <see cref="ForUnitTests"/>, the Mosquitto tests
/// <see cref="ForBrokerTests"/>; they differ only in head size, seed weights and option defaults.
/// </summary>
internal sealed class AggregatorTestKit : IDisposable
{
    public const string Model = "sea";

    private readonly Func<AggregatorOptions, AggregatorOptions> _defaults;

    /// <param name="head">The model's head; deltas from <see cref="EncodeDelta"/> have its shapes.</param>
    /// <param name="seedWeights">Weights of the released 1.0.0.</param>
    /// <param name="defaults">Applied to every <see cref="Options"/> before the test's own configure.</param>
    public AggregatorTestKit(HeadSpec head, IReadOnlyList<NamedTensor> seedWeights, Func<AggregatorOptions, AggregatorOptions>? defaults = null)
    {
        Head = head;
        _defaults = defaults ?? (o => o);
        Directory.CreateDirectory(Root);
        var bundleDir = Path.Combine(Root, "seed");
        ModelBundle.Save(bundleDir, Manifest("1.0.0"), seedWeights);
        using (var registry = ModelRegistry.Open(RegistryPath))
            RegistryModels.Import(registry, bundleDir, VersionStatus.Released);
        using var key = ReleaseKeys.Generate();
        ReleaseKeys.Save(key, PrivateKeyPath, PublicKeyPath);
    }

    /// <summary>Seeds a PostgreSQL registry with the same released 1.0.0 as the SQLite one (for instances on separate hosts).</summary>
    public void SeedPostgres(string connectionString)
    {
        using var registry = ModelRegistry.Open(RegistryLocation.Postgres(connectionString, Path.Combine(Root, "seed-work")));
        RegistryModels.Import(registry, Path.Combine(Root, "seed"), VersionStatus.Released);
    }

    /// <summary>3 → 4 → 2: the unit tests only check bookkeeping, so the smallest head keeps them quick.</summary>
    public static HeadSpec SmallHead { get; } = new([3, 4, 2], LossKind.SoftmaxCrossEntropy);

    /// <summary>3 → 8 → 2: the broker tests judge releases by accuracy on SEA, which needs a head that can learn it.</summary>
    public static HeadSpec WideHead { get; } = new([3, 8, 2], LossKind.SoftmaxCrossEntropy);

    public HeadSpec Head { get; }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cl-agg-tests", Guid.NewGuid().ToString("N"));

    public string RegistryPath => Path.Combine(Root, "registry");

    public string PrivateKeyPath => Path.Combine(Root, "release.key");

    public string PublicKeyPath => Path.Combine(Root, "release.pub");

    /// <summary>In-process tests: small head with uniform random seed weights, a buffer of 100, the default rollout.</summary>
    public static AggregatorTestKit ForUnitTests() =>
        new(SmallHead, Weights(SmallHead, 1), o => o with { Aggregation = o.Aggregation with { BufferSize = 100 } });

    /// <summary>
    /// Broker tests: wide head seeded with <paramref name="seedWeights"/> (default: initialised with seed 1), a shared
    /// subscription, a buffer of 1000 and no canary stage.
    /// </summary>
    public static AggregatorTestKit ForBrokerTests(IReadOnlyList<NamedTensor>? seedWeights = null) =>
        new(WideHead, seedWeights ?? HeadInitializer.Initialize(WideHead, 1), o => o with
        {
            SharedSubscription = true,
            Aggregation = o.Aggregation with { BufferSize = 1000 },
            Rollout = new RolloutOptions { Canary = false },
        });

    public static NamedTensor[] Weights(HeadSpec spec, int seed, float scale = 0.5f)
    {
        var rng = new Random(seed);
        return spec.Parameters()
            .Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Range(0, p.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => ((float)rng.NextDouble() - 0.5f) * 2 * scale).ToArray()))
            .ToArray();
    }

    /// <summary>Options for an instance on this registry; <paramref name="instance"/> defaults to a fresh random id.</summary>
    public AggregatorOptions Options(int brokerPort, string fleet, string? instance = null, Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var o = _defaults(new AggregatorOptions
        {
            Fleet = fleet,
            ModelName = Model,
            RegistryPath = RegistryPath,
            PrivateKeyPath = PrivateKeyPath,
            BrokerPort = brokerPort,
            InstanceId = instance ?? "agg-" + Guid.NewGuid().ToString("N")[..8],
            Aggregation = new AggregationOptions { MaxWait = TimeSpan.FromHours(1) },
            Tick = TimeSpan.FromMilliseconds(100),
        });
        return configure is null ? o : configure(o);
    }

    /// <summary>An fp32 dense delta of <paramref name="head"/> (default: the kit's) with the given per-element value pattern.</summary>
    public byte[] EncodeDelta(string device, string baseVersion = "1.0.0", Guid? id = null, long samples = 10, float value = 0.01f,
        string model = Model, HeadSpec? head = null, Func<int, float>? pattern = null, DateTimeOffset? createdAt = null)
    {
        var dense = (head ?? Head).Parameters().Select(p =>
        {
            var n = p.Shape.Aggregate(1, (a, b) => a * b);
            return new NamedTensor(p.Name, p.Shape, Enumerable.Range(0, n).Select(i => pattern?.Invoke(i) ?? value).ToArray());
        }).ToArray();
        return Encode(device, id ?? Guid.NewGuid(), baseVersion, samples, dense, model, createdAt);
    }

    /// <summary>Encodes a dense delta as fp32 (lossless), the way a device sends it, created <paramref name="createdAt"/> (default now).</summary>
    public static byte[] Encode(string device, Guid id, string baseVersion, long samples, IReadOnlyList<NamedTensor> dense, string model = Model, DateTimeOffset? createdAt = null)
    {
        var tensors = DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseFloat32);
        var header = new DeltaHeader(model, baseVersion, device, id, samples, new Dictionary<string, double>(), createdAt ?? DateTimeOffset.UtcNow);
        return DeltaCodec.Encode(new WeightDelta(header, tensors));
    }

    /// <summary>
    /// A dense delta of <paramref name="value"/> everywhere for <paramref name="model"/> (the base model or a cluster
    /// model) carrying a device's loss report for concept-aware aggregation, as a device under learning:clustering sends it.
    /// </summary>
    public byte[] EncodeClusterDelta(string device, string model, string baseVersion, ClusterReport report, float value = 0.01f)
    {
        ArgumentNullException.ThrowIfNull(report);
        var metrics = new Dictionary<string, double>();
        report.WriteTo(metrics);
        var dense = Head.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(value, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray())).ToArray();
        var header = new DeltaHeader(model, baseVersion, device, Guid.NewGuid(), report.Samples, metrics, DateTimeOffset.UtcNow);
        return DeltaCodec.Encode(new WeightDelta(header, DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseFloat32)));
    }

    /// <summary>
    /// Concept-aware aggregation on, set so that two rounds split a fleet (<see cref="SplitIntoTwoClustersAsync"/>):
    /// one device per round suffices, no grace rounds, releases without a canary.
    /// </summary>
    public static AggregatorOptions WithClustering(AggregatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options with
        {
            Validation = options.Validation with { MaxStaleness = 8 },
            Rollout = options.Rollout with { Canary = false },
            Aggregation = options.Aggregation with
            {
                MinDevices = 1,
                Clustering = new Aggregator.Clustering.FleetClusteringOptions
                {
                    Enabled = true, Thresholds = new Aggregator.Clustering.ClusteringOptions { GraceRounds = 0, MinSamples = 10 },
                },
            },
        };
    }

    /// <summary>
    /// Two real rounds of concept-aware aggregation on a service started with <see cref="WithClustering"/>: a1–a3 fit
    /// the configured model, b1–b3 another concept. Round 1: b1 creates cluster 1 (<c>sea.c1</c> 1.0.0, released).
    /// Round 2: b2 and b3 move to it and b1's delta on it makes <c>sea.c1</c> 1.1.0 (released); the configured model
    /// goes to 1.2.0. Afterwards a1–a3 are in cluster 0 and b1–b3 in cluster 1.
    /// </summary>
    public async Task SplitIntoTwoClustersAsync(AggregatorService service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        var cluster1 = ClusterNames.ModelName(Model, 1);
        static ClusterReport Report(int cluster, double? local, params (int Cluster, double Loss)[] losses) =>
            new(cluster, losses.ToDictionary(l => l.Cluster, l => l.Loss), local, 100);
        void Receive(string device, byte[] delta)
        {
            var verdict = service.Receive(device, delta);
            if (!verdict.Accepted) throw new InvalidOperationException($"The delta of {device} was refused: {verdict.Reason} {verdict.Message}");
        }
        foreach (var d in new[] { "a1", "a2", "a3" }) Receive(d, EncodeClusterDelta(d, Model, "1.0.0", Report(0, 0.3, (0, 0.3))));
        foreach (var d in new[] { "b1", "b2", "b3" }) Receive(d, EncodeClusterDelta(d, Model, "1.0.0", Report(0, 0.3, (0, 0.9)), value: 0.05f));
        await service.AggregateAllAsync(force: true, cancellationToken).ConfigureAwait(false);
        foreach (var d in new[] { "a1", "a2", "a3" }) Receive(d, EncodeClusterDelta(d, Model, "1.1.0", Report(0, 0.3, (0, 0.3), (1, 0.9))));
        foreach (var d in new[] { "b2", "b3" }) Receive(d, EncodeClusterDelta(d, Model, "1.1.0", Report(0, 0.3, (0, 0.9), (1, 0.3))));
        Receive("b1", EncodeClusterDelta("b1", cluster1, "1.0.0", Report(1, 0.3, (0, 0.9), (1, 0.3))));
        var made = await service.AggregateAllAsync(force: true, cancellationToken).ConfigureAwait(false);
        if (!made.Any(v => v.Name == cluster1 && v.Version == "1.1.0"))
            throw new InvalidOperationException($"Round 2 made {string.Join(", ", made.Select(v => $"{v.Name} {v.Version}"))}, not {cluster1} 1.1.0.");
    }

    /// <summary>A well-formed delta that carries nothing: no tensors, or (<paramref name="sparseNothing"/>) one sparse tensor with no values.</summary>
    public byte[] EncodeEmptyDelta(string device, bool sparseNothing = false)
    {
        var header = new DeltaHeader(Model, "1.0.0", device, Guid.NewGuid(), 10, new Dictionary<string, double>(), DateTimeOffset.UtcNow);
        var first = Head.Parameters().First();
        TensorDelta[] tensors = sparseNothing ? [new TensorDelta(first.Name, first.Shape, DeltaEncoding.Float32, 1f, [], [])] : [];
        return DeltaCodec.Encode(new WeightDelta(header, tensors));
    }

    /// <summary>A delta whose first value is NaN: the encoder refuses that, so patch the bytes and re-seal the checksum.</summary>
    public byte[] EncodeNaNDelta(string device)
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

    private ModelManifest Manifest(string version) => new()
    {
        Name = Model,
        Version = version,
        CreatedUtc = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        InputSchema = new InputSchema([new FeatureSpec("f1", 5, 2.9f), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f)]),
        Task = TaskSpec.Classification("0", "1"),
        Head = Head,
        Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f } },
    };
}
