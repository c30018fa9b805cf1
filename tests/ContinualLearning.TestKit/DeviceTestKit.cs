using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Training;

namespace ContinualLearning.TestKit;

/// <summary>
/// A device's world in a temp directory: a fleet signing key, an operator key the device trusts for commands, a small SEA-like base bundle (3 features → 8 → 2 classes),
/// and options pointing at a broker. Deleted on dispose.
/// </summary>
internal sealed class DeviceTestKit : IDisposable
{
    public const string Model = "sea";

    public DeviceTestKit(int brokerPort, string? fleet = null, string deviceId = "dev-1")
    {
        Directory.CreateDirectory(Root);
        Fleet = fleet ?? "f" + Guid.NewGuid().ToString("N")[..10];
        DeviceId = deviceId;
        ReleaseKeys.Save(Key, Path.Combine(Root, "fleet.key"), PublicKeyPath);
        ReleaseKeys.Save(OperatorKey, OperatorPrivateKeyPath, OperatorPublicKeyPath);
        Options = new DeviceOptions
        {
            DeviceId = deviceId,
            Fleet = Fleet,
            ModelName = Model,
            FleetPublicKeyPath = PublicKeyPath,
            DataDirectory = Path.Combine(Root, "data"),
            TransientStorePath = Path.Combine(Root, "samples.db"),
            AllowPersistentStore = true,
            DeleteStoreOnStop = false,
            Engine = EngineChoice.Managed,
            HttpPort = 0,
            Broker = new BrokerOptions { Port = brokerPort },
            TrainCheckInterval = TimeSpan.FromHours(1),
            Challenger = new ContinualLearning.Learning.ChallengerOptions { MinSamples = 20, MaxSamples = 400, AccuracyMargin = -1 },
            Commands = new CommandOptions { OperatorKeyFiles = [OperatorPublicKeyPath] },
        };
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cl-device-tests", Guid.NewGuid().ToString("N"));

    public string Fleet { get; }

    public string DeviceId { get; }

    public ECDsa Key { get; } = ReleaseKeys.Generate();

    public string PublicKeyPath => Path.Combine(Root, "fleet.pub");

    /// <summary>The operator key whose public half the device trusts for commands.</summary>
    public ECDsa OperatorKey { get; } = ReleaseKeys.Generate();

    public string OperatorPrivateKeyPath => Path.Combine(Root, "operator.key");

    public string OperatorPublicKeyPath => Path.Combine(Root, "operator.pub");

    /// <summary>The next release sequence <see cref="Release"/> uses when none is given.</summary>
    public long NextSequence { get; set; } = 1;

    /// <summary>A command for this kit's device signed with <see cref="OperatorKey"/> (or <paramref name="key"/>), valid from now for <paramref name="lifetime"/> (default one minute).</summary>
    public ContinualLearning.Fleet.Messages.Command SignedCommand(CommandKind kind, IReadOnlyDictionary<string, string>? args = null, ECDsa? key = null, TimeSpan? lifetime = null, DateTimeOffset? issuedAt = null) =>
        CommandSigner.Sign(new ContinualLearning.Fleet.Messages.Command { CommandId = Guid.NewGuid().ToString("N"), Kind = kind, Args = args },
            key ?? OperatorKey, Fleet, DeviceId, issuedAt ?? DateTimeOffset.UtcNow, lifetime ?? TimeSpan.FromMinutes(1));

    public DeviceOptions Options { get; set; }

    public static ModelManifest Manifest(string version) => new()
    {
        Name = Model,
        Version = version,
        CreatedUtc = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        InputSchema = new InputSchema([new FeatureSpec("f1", 5f, 2.9f), new FeatureSpec("f2", 5f, 2.9f), new FeatureSpec("f3", 5f, 2.9f)]),
        Task = TaskSpec.Classification("DOWN", "UP"),
        Head = new HeadSpec([3, 8, 2], LossKind.SoftmaxCrossEntropy),
        Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f }, BatchSize = 16 },
    };

    /// <summary>Writes a bundle directory for <paramref name="version"/> with HeadInitializer weights.</summary>
    public string Bundle(string version, int seed = 1)
    {
        var dir = Path.Combine(Root, "bundles", version);
        var manifest = Manifest(version);
        ModelBundle.Save(dir, manifest, HeadInitializer.Initialize(manifest.Head, seed), overwrite: true);
        return dir;
    }

    /// <summary>Packs a bundle and returns its (signed) release and chunks; the release sequence is <see cref="NextSequence"/> (then incremented) unless given.</summary>
    public (Release Release, IReadOnlyList<BundleChunk> Chunks) Release(string version, string cohort = "all", bool sign = true, int chunkSize = 1024, long? sequence = null)
    {
        var container = BundlePackager.Pack(Bundle(version));
        var release = BundlePackager.CreateRelease(container, Model, version, cohort, chunkSize) with { Sequence = sequence ?? NextSequence++ };
        if (sign) release = ReleaseSigner.Sign(release, Key);
        return (release, BundlePackager.Split(container, Model, version, chunkSize));
    }

    /// <summary>Publishes the chunks and the release (all retained), as the aggregator does.</summary>
    public async Task PublishReleaseAsync(FleetMqttClient client, Release release, IReadOnlyList<BundleChunk> chunks)
    {
        foreach (var c in chunks)
            await client.PublishAsync(FleetTopics.Chunk(Fleet, Model, release.Version, c.Index), c.Encode(), retain: true);
        await client.PublishAsync(FleetTopics.Release(Fleet, Model), FleetJson.Serialize(release), retain: true);
    }

    /// <summary>A SEA concept-1 sample: UP when f1 + f2 ≤ 8.</summary>
    public static (float[] Features, string Label) Sea(Random rng)
    {
        var f = new[] { (float)(rng.NextDouble() * 10), (float)(rng.NextDouble() * 10), (float)(rng.NextDouble() * 10) };
        return (f, f[0] + f[1] <= 8 ? "UP" : "DOWN");
    }

    public void Dispose()
    {
        Key.Dispose();
        OperatorKey.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
