using System.Collections.Concurrent;
using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Device;
using ContinualLearning.Device.Agent;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// The device side of concept-aware aggregation through a real broker, real signing keys and real bundles: it follows a
/// signed cluster directory to its cluster's model, scores every live cluster's head on its newest samples, and ignores
/// forged, tampered and replayed directories.
/// </summary>
public sealed class ClusteringDeviceTests : IAsyncLifetime
{
    private const string Model = DeviceTestKit.Model;
    private const string C1 = Model + ".c1";
    private readonly EmbeddedBroker _broker = new();
    private readonly ConcurrentQueue<byte[]> _deltas = new();
    private DeviceTestKit _kit = null!;
    private DeviceRuntime _runtime = null!;
    private DeviceAgent _agent = null!;
    private FleetMqttClient _fleet = null!;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
        _fleet = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "aggregator", Port = _broker.Port });
        _fleet.MessageReceived += m =>
        {
            if (m.Topic == FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId)) _deltas.Enqueue(m.Payload);
            return Task.CompletedTask;
        };
        await _fleet.StartAsync();
        await _fleet.WaitUntilConnectedAsync().WaitAsync(DefaultPatience);
        await _fleet.SubscribeAsync(FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId));
    }

    public async ValueTask DisposeAsync()
    {
        await StopDeviceAsync();
        await _fleet.DisposeAsync();
        await _broker.DisposeAsync();
        _kit.Dispose();
    }

    [Fact]
    public async Task A_device_assigned_to_cluster_1_installs_its_release_and_reports_a_loss_for_every_live_cluster()
    {
        // Cluster 0 (the model itself) learned the flipped concept, cluster 1 the device's own (SEA concept 1).
        await StartDeviceAsync(clustering: true, baseConcept: true);
        await PublishClusterReleaseAsync(C1, "2.0.0", flipped: false, sequence: 1);
        await PublishDirectoryAsync(Directory(1, ("2.0.0", 1)));

        await WaitUntil(() => Serving() == (C1, "2.0.0"));
        await WaitUntil(() => _agent.ClusterHeads.ContainsKey(0));
        Assert.Equal(1, _agent.Cluster);
        Assert.Equal(1, _agent.AppliedClusterDirectorySequence);
        Assert.Equal(1, _agent.BuildTelemetry().Extra!["cluster"]);

        var header = await TrainAndReceiveDeltaAsync();
        Assert.Equal(C1, header.ModelName);
        Assert.Equal("2.0.0", header.BaseVersion);
        var report = ClusterReport.TryRead(header.Metrics, out var error);
        Assert.Null(error);
        Assert.NotNull(report);
        Assert.Equal(1, report.Cluster);
        Assert.Equal(new[] { 0, 1 }, report.Losses.Keys.Order());
        Assert.Equal(Samples, report.Samples);
        Assert.NotNull(report.LocalLoss);
        // Measured on the device's samples: the head of its own concept fits far better than the flipped one.
        Assert.True(report.Losses[1] + 0.3 < report.Losses[0], $"cluster 1 loss {report.Losses[1]:0.000} vs cluster 0 {report.Losses[0]:0.000}");
        // The champion before this run is cluster 1's release itself: the same loss.
        Assert.Equal(report.Losses[1], report.LocalLoss!.Value, 6);
        // Scored on the same samples as the champion: a standard error per cluster, none for identical losses.
        Assert.Equal(new[] { 0, 1 }, report.StandardErrors!.Keys.Order());
        Assert.Equal(0, report.StandardErrors[1], 6);
        Assert.True(report.StandardErrors[0] > 0, $"cluster 0 standard error {report.StandardErrors[0]}");
    }

    [Fact]
    public async Task Attack_forged_and_tampered_directories_are_ignored()
    {
        await StartDeviceAsync(clustering: true, baseConcept: false);
        await PublishClusterReleaseAsync(C1, "2.0.0", flipped: true, sequence: 1);

        // Signed with a key the device does not trust.
        using var attacker = ReleaseKeys.Generate();
        await PublishDirectoryAsync(Directory(1, ("2.0.0", 1)), attacker);
        await WaitUntil(() => _agent.LastClusterDirectoryRejection is not null);
        Assert.Contains("trusts key", _agent.LastClusterDirectoryRejection, StringComparison.Ordinal);

        // Validly signed, then the assignment rewritten in transit.
        var signed = ClusterDirectorySigner.Sign(Directory(0, ("2.0.0", 2)), _kit.Key);
        var tampered = signed with { Assignments = new Dictionary<string, int> { [_kit.DeviceId] = 1 } };
        await _fleet.PublishAsync(FleetTopics.Clusters(_kit.Fleet, Model), FleetJson.Serialize(tampered), retain: true);
        await WaitUntil(() => _agent.LastClusterDirectoryRejection!.Contains("does not match", StringComparison.Ordinal));

        Assert.Equal(0, _agent.Cluster);
        Assert.Equal(0, _agent.AppliedClusterDirectorySequence);
        Assert.Equal((Model, "1.0.0"), Serving());
    }

    [Fact]
    public async Task Attack_a_replayed_older_directory_is_ignored_also_after_a_restart()
    {
        await StartDeviceAsync(clustering: true, baseConcept: false);
        await PublishClusterReleaseAsync(C1, "2.0.0", flipped: true, sequence: 1);
        var old = Directory(0, ("2.0.0", 1)); // everyone in cluster 0
        await PublishDirectoryAsync(old);
        await WaitUntil(() => _agent.AppliedClusterDirectorySequence == 1);
        await PublishDirectoryAsync(Directory(1, ("2.0.0", 2)));
        await WaitUntil(() => Serving() == (C1, "2.0.0"));

        // The attacker re-publishes the older, validly signed directory as the retained one.
        await PublishDirectoryAsync(old);
        await WaitUntil(() => _agent.LastClusterDirectoryRejection is not null);
        Assert.Contains("replayed older directory", _agent.LastClusterDirectoryRejection, StringComparison.Ordinal);
        Assert.Equal(1, _agent.Cluster);

        // After a restart the retained (replayed) directory arrives first: the applied sequence is on disk.
        await StopDeviceAsync();
        await StartDeviceAsync(clustering: true, baseConcept: null);
        await WaitUntil(() => _agent.LastClusterDirectoryRejection is not null);
        Assert.Contains("replayed older directory", _agent.LastClusterDirectoryRejection, StringComparison.Ordinal);
        Assert.Equal(2, _agent.AppliedClusterDirectorySequence);
        Assert.Equal((C1, "2.0.0"), Serving());
        Assert.Equal(1, _agent.Cluster);
    }

    [Fact]
    public async Task A_directory_that_drops_the_devices_cluster_sends_it_back_to_cluster_0()
    {
        await StartDeviceAsync(clustering: true, baseConcept: false);
        await PublishClusterReleaseAsync(C1, "2.0.0", flipped: true, sequence: 1);
        await PublishDirectoryAsync(Directory(1, ("2.0.0", 1)));
        await WaitUntil(() => Serving() == (C1, "2.0.0"));
        await WaitUntil(() => _agent.ClusterHeads.ContainsKey(0));

        // Cluster 1 retired (merged into 0): the directory lists cluster 0 only and assigns nobody.
        await _fleet.PublishAsync(FleetTopics.Clusters(_kit.Fleet, Model), FleetJson.Serialize(ClusterDirectorySigner.Sign(new ClusterDirectory
        {
            ModelName = Model,
            Sequence = 2,
            Round = 2,
            Clusters = [new ClusterEntry { Cluster = 0, ModelName = Model, Version = "1.0.0" }],
            Assignments = new Dictionary<string, int>(),
        }, _kit.Key)), retain: true);

        await WaitUntil(() => Serving() == (Model, "1.0.0"));
        Assert.Equal(0, _agent.Cluster);
        Assert.Empty(_agent.ClusterHeads);
        Assert.Equal(0, _agent.BuildTelemetry().Extra!["cluster"]); // cluster 0 is served, cluster 1 retired: nothing else to hold
        var header = await TrainAndReceiveDeltaAsync();
        Assert.Equal(Model, header.ModelName);
        var report = ClusterReport.TryRead(header.Metrics, out _);
        Assert.Equal(0, report!.Cluster);
        Assert.Equal(new[] { 0 }, report.Losses.Keys);
    }

    [Fact]
    public async Task Clustering_off_follows_no_directory_and_sends_no_cluster_metrics()
    {
        await StartDeviceAsync(clustering: false, baseConcept: false);
        await PublishClusterReleaseAsync(C1, "2.0.0", flipped: true, sequence: 1);
        await PublishDirectoryAsync(Directory(1, ("2.0.0", 1)));

        var header = await TrainAndReceiveDeltaAsync();
        Assert.Equal(Model, header.ModelName);
        Assert.Null(_agent.Cluster);
        Assert.DoesNotContain(header.Metrics.Keys, k => k.StartsWith("cluster.", StringComparison.Ordinal));
        Assert.False(_agent.BuildTelemetry().Extra!.ContainsKey("cluster"));
        Assert.Equal((Model, "1.0.0"), Serving());
    }

    private const int Samples = 60;

    private (string? Model, string? Version) Serving() => (_runtime.Learner?.Status.ModelName, _runtime.Learner?.Status.BaseVersion);

    /// <summary>Starts the device on <see cref="Model"/> 1.0.0 (a head trained on the given concept, also published as its signed release); null = restart on the existing data.</summary>
    private async Task StartDeviceAsync(bool clustering, bool? baseConcept)
    {
        if (baseConcept is { } flipped)
        {
            var dir = TrainedBundle(Model, "1.0.0", flipped);
            _kit.Options = _kit.Options with { InitialBundle = dir, Clustering = clustering };
            await PublishAsync(Model, dir, "1.0.0", sequence: 1);
        }
        else
        {
            _kit.Options = _kit.Options with { InitialBundle = null };
        }
        _runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        await _runtime.OpenAsync();
        _agent = new DeviceAgent(_runtime, _kit.Key);
        await _agent.StartAsync();
        await _agent.WaitUntilConnectedAsync().WaitAsync(DefaultPatience);
    }

    private async Task StopDeviceAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
        if (_runtime is not null) await _runtime.DisposeAsync();
        _agent = null!;
        _runtime = null!;
    }

    /// <summary>Labels <see cref="Samples"/> new concept-1 samples, trains, and returns the header of the delta the device sends.</summary>
    private async Task<DeltaHeader> TrainAndReceiveDeltaAsync()
    {
        var rng = new Random(11);
        for (var i = 0; i < Samples; i++)
        {
            var (features, label) = DeviceTestKit.Sea(rng);
            _runtime.AddLabelled(features, label);
        }
        var result = await _runtime.TrainNowAsync("test");
        Assert.NotNull(result);
        Assert.True(result.Decision.Promoted);
        await WaitUntil(() => !_deltas.IsEmpty);
        Assert.True(_deltas.TryDequeue(out var payload));
        return DeltaCodec.Decode(payload).Header;
    }

    private ClusterDirectory Directory(int assigned, (string Version, long Sequence) c1) => new()
    {
        ModelName = Model,
        Sequence = c1.Sequence,
        Round = (int)c1.Sequence,
        Clusters =
        [
            new ClusterEntry { Cluster = 0, ModelName = Model, Version = "1.0.0" },
            new ClusterEntry { Cluster = 1, ModelName = C1, Version = c1.Version },
        ],
        Assignments = assigned == 0 ? new Dictionary<string, int> { ["dev-other"] = 1 } : new Dictionary<string, int> { [_kit.DeviceId] = assigned },
    };

    private Task PublishDirectoryAsync(ClusterDirectory directory, ECDsa? key = null) =>
        _fleet.PublishAsync(FleetTopics.Clusters(_kit.Fleet, Model), FleetJson.Serialize(ClusterDirectorySigner.Sign(directory, key ?? _kit.Key)), retain: true);

    private Task PublishClusterReleaseAsync(string model, string version, bool flipped, long sequence) =>
        PublishAsync(model, TrainedBundle(model, version, flipped), version, sequence);

    private async Task PublishAsync(string model, string bundleDirectory, string version, long sequence)
    {
        var container = BundlePackager.Pack(bundleDirectory);
        var release = ReleaseSigner.Sign(BundlePackager.CreateRelease(container, model, version, "all", 1024) with { Sequence = sequence }, _kit.Key);
        foreach (var c in BundlePackager.Split(container, model, version, 1024))
            await _fleet.PublishAsync(FleetTopics.Chunk(_kit.Fleet, model, version, c.Index), c.Encode(), retain: true);
        await _fleet.PublishAsync(FleetTopics.Release(_kit.Fleet, model), FleetJson.Serialize(release), retain: true);
    }

    /// <summary>
    /// A bundle of <paramref name="model"/> whose head learned SEA concept 1 (UP when f1 + f2 ≤ 8), or its flip, on
    /// normalised features as the device stores them.
    /// </summary>
    private string TrainedBundle(string model, string version, bool flipped)
    {
        var manifest = DeviceTestKit.Manifest(version) with { Name = model };
        var dir = Path.Combine(_kit.Root, "cluster-bundles", model, version);
        using var head = new ManagedEngine().Create(manifest.Head, manifest.Training.Options, HeadInitializer.Initialize(manifest.Head, 3));
        var rng = new Random(flipped ? 5 : 7);
        const int batch = 32;
        var x = new float[batch * 3];
        var y = new float[batch];
        for (var step = 0; step < 400; step++)
        {
            for (var i = 0; i < batch; i++)
            {
                var (features, label) = DeviceTestKit.Sea(rng);
                for (var j = 0; j < 3; j++) x[i * 3 + j] = (features[j] - 5f) / 2.9f;
                y[i] = (label == "UP") != flipped ? 1 : 0;
            }
            head.TrainStep(x, y, batch);
        }
        ModelBundle.Save(dir, manifest, head.GetWeights(), overwrite: true);
        return dir;
    }
}
