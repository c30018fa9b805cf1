using System.Collections.Concurrent;
using System.Security.Cryptography;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>
/// Simulated devices on a real Mosquitto: each publishes its retained status, sends deltas, learns its cohort from the
/// aggregator's set-config command, installs releases meant for its cohort (verified, assembled from the retained
/// chunks, loaded as a bundle) and reports the installed model's accuracy on its own SEA data as telemetry.
/// </summary>
public sealed class CanaryRolloutTests : IDisposable
{
    private static readonly Sample[] Evaluation = new SeaGenerator(1, 0.0, 77).Take(1000).ToArray();
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForBrokerTests(TrainedSeed());

    public void Dispose() => _kit.Dispose();

    [MosquittoFact]
    public async Task Good_deltas_are_promoted_after_the_canary_and_poisoned_ones_are_rolled_back()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        const string fleet = "canary";
        await using var service = new AggregatorService(_kit.Options(broker.Port, fleet, "agg-canary", o => o with
        {
            SharedSubscription = true,
            Aggregation = o.Aggregation with { BufferSize = 6 },
            Rollout = new RolloutOptions { Canary = true, CanaryDevices = ["d0", "d1"], MinReports = 2, AccuracyMargin = 0.02, Window = TimeSpan.FromMinutes(2) },
        }));
        var decisions = new ConcurrentQueue<string>();
        service.Decided += (v, d) => decisions.Enqueue($"{v} {d.ToText()}");
        await service.StartAsync();

        var devices = Enumerable.Range(0, 6).Select(i => new SimulatedDevice($"d{i}", fleet, broker.Port, _kit.PublicKeyPath, Path.Combine(_kit.Root, "seed"))).ToArray();
        try
        {
            foreach (var d in devices) await d.StartAsync();
            await WaitUntil(() => service.Devices.Count == 6, "the aggregator saw all devices' status");

            // Round 1: honest small deltas → canary → promoted to all.
            foreach (var d in devices) await d.SendDeltaAsync(scale: 0.001f, seed: 1);
            await WaitUntil(() => decisions.ToArray(), d => d.Contains("1.1.0 promoted"), "1.1.0 promoted (observed: the decisions)");
            await WaitUntil(() => devices.All(d => d.Version == "1.1.0"), "every device installed 1.1.0");
            Assert.All(devices.Take(2), d => Assert.Equal(Cohorts.Canary, d.Cohort));

            // Round 2: poisoned deltas (the model's weights negated and scaled) → the canary does worse → rolled back.
            foreach (var d in devices) await d.SendDeltaAsync(scale: 0, seed: 2, poison: true);
            await WaitUntil(() => decisions.ToArray(), d => d.Contains("1.2.0 rolled-back"), "1.2.0 rolled back (observed: the decisions)");
            await WaitUntil(() => devices.All(d => d.Version == "1.1.0"), "canary devices went back to 1.1.0");

            var registry = service.Registry;
            Assert.Equal(VersionStatus.Released, registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.Status);
            Assert.Equal(VersionStatus.RolledBack, registry.GetVersion(AggregatorTestKit.Model, "1.2.0")!.Status);
            var rollback = registry.Decisions.List(AggregatorTestKit.Model, "1.2.0").Single(r => r.Decision == DecisionKind.RolledBack);
            Assert.Contains("canaryAccuracy", rollback.NumbersJson);
            Assert.True(devices.Skip(2).All(d => d.Installed.Contains("1.2.0") == false), "control devices never installed the canary version");
        }
        finally
        {
            foreach (var d in devices) await d.DisposeAsync();
        }
    }

    private static IReadOnlyList<NamedTensor> TrainedSeed()
    {
        using var head = new ManagedEngine().Create(AggregatorTestKit.WideHead, new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f }, seed: 3);
        var x = new float[32 * 3];
        var y = new float[32];
        using var stream = new SeaGenerator(1, 0.1, 5).GetEnumerator();
        for (var step = 0; step < 600; step++)
        {
            for (var i = 0; i < 32; i++)
            {
                stream.MoveNext();
                for (var f = 0; f < 3; f++) x[i * 3 + f] = (stream.Current.Features[f] - 5f) / 2.9f;
                y[i] = stream.Current.Label;
            }
            head.TrainStep(x, y, 32);
        }
        return head.GetWeights();
    }

    private sealed record Installation(ModelBundle Bundle, string Version);

    private sealed class SimulatedDevice : IAsyncDisposable
    {
        private readonly string _fleet;
        private readonly FleetMqttClient _client;
        private readonly ECDsa _trusted;
        private readonly string _state = Directory.CreateTempSubdirectory("cl-sim-").FullName;
        private readonly SemaphoreSlim _gate = new(1, 1);
        private BundleAssembler? _assembler;
        private ModelBundle? _bundle;
        private Installation _installed;
        private readonly CancellationTokenSource _stop = new();
        private Task? _reporter;

        public SimulatedDevice(string id, string fleet, int port, string publicKeyPath, string seedBundle)
        {
            _bundle = ModelBundle.Load(seedBundle);
            _installed = new Installation(_bundle, Version);
            Id = id;
            _fleet = fleet;
            _trusted = ReleaseKeys.LoadPublic(publicKeyPath);
            _client = new FleetMqttClient(new FleetMqttClientOptions
            {
                ClientId = id,
                Port = port,
                Will = new FleetWill(FleetTopics.Status(fleet, id), FleetJson.Serialize(DeviceStatus.Offline(id))),
                Birth = new FleetBirth(FleetTopics.Status(fleet, id), () => FleetJson.Serialize(new DeviceStatus { DeviceId = id, State = DeviceState.Online, Timestamp = DateTimeOffset.UtcNow, ModelName = AggregatorTestKit.Model, ModelVersion = Version, Cohort = Cohort })),
            });
            _client.MessageReceived += OnMessageAsync;
        }

        public string Id { get; }

        public string Version { get; private set; } = "1.0.0";

        public string Cohort { get; private set; } = Cohorts.All;

        public ConcurrentBag<string> Installed { get; } = [];

        public async Task StartAsync()
        {
            await _client.SubscribeAsync(FleetTopics.Command(_fleet, Id));
            await _client.SubscribeAsync(FleetTopics.Release(_fleet, AggregatorTestKit.Model));
            await _client.StartAsync();
            _reporter = Task.Run(ReportLoopAsync);
        }

        // Telemetry as a device sends it: periodically, the accuracy of whatever model is installed.
        private async Task ReportLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var (bundle, version) = _installed;
                var accuracy = HoldoutEvaluator.Accuracy(bundle.Manifest, bundle.HeadWeights, Evaluation);
                try
                {
                    await _client.PublishAsync(FleetTopics.Telemetry(_fleet, Id), FleetJson.Serialize(new Telemetry { DeviceId = Id, Timestamp = DateTimeOffset.UtcNow, ModelVersion = version, Accuracy = accuracy, AccuracyWindow = Evaluation.Length }), cancellationToken: _stop.Token);
                    await Task.Delay(200, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        public async Task SendDeltaAsync(float scale, int seed, bool poison = false)
        {
            var rng = new Random(seed * 100 + Id.GetHashCode(StringComparison.Ordinal) % 97);
            var current = _bundle?.HeadWeights;
            var dense = AggregatorTestKit.WideHead.Parameters().Select((p, t) =>
            {
                var n = p.Shape.Aggregate(1, (a, b) => a * b);
                var values = new float[n];
                for (var i = 0; i < n; i++)
                    values[i] = poison && current is not null ? -3f * current[t].Data[i] : (float)(rng.NextDouble() - 0.5) * 2 * scale;
                return new NamedTensor(p.Name, p.Shape, values);
            }).ToArray();
            await _client.PublishAsync(FleetTopics.DeltaTopic(_fleet, Id), AggregatorTestKit.Encode(Id, Guid.NewGuid(), Version, 100, dense));
        }

        private async Task OnMessageAsync(FleetMessage message)
        {
            var topic = FleetTopics.TryParse(message.Topic);
            if (topic?.Kind == FleetTopicKind.DeviceCommand)
            {
                var command = FleetJson.ReadCommand(message.Payload);
                if (command.Kind == CommandKind.SetConfig && command.Args?.TryGetValue("cohort", out var cohort) == true) Cohort = cohort;
                if (message.ResponseTopic is not null)
                    await _client.ReplyAsync(message, FleetJson.Serialize(new CommandReply { CommandId = command.CommandId, DeviceId = Id, Ok = true, Message = $"cohort={Cohort}" }));
                return;
            }
            if (topic?.Kind == FleetTopicKind.ModelRelease && message.Payload.Length > 0)
            {
                var release = FleetJson.ReadRelease(message.Payload);
                if ((release.Cohort != Cohorts.All && release.Cohort != Cohort) || release.Version == Version) return;
                await _gate.WaitAsync();
                try
                {
                    _assembler = new BundleAssembler(release, _trusted, Path.Combine(_state, release.Version));
                    await _client.SubscribeAsync(FleetTopics.AllChunks(_fleet, release.ModelName, release.Version));
                }
                finally
                {
                    _gate.Release();
                }
                return;
            }
            if (topic?.Kind == FleetTopicKind.ModelChunk)
            {
                await _gate.WaitAsync();
                try
                {
                    var assembler = _assembler;
                    if (assembler is null || topic.Version != assembler.Release.Version) return;
                    assembler.Accept(BundleChunk.Decode(message.Payload));
                    if (assembler.TryAssemble() is not { } container) return;
                    var dir = Path.Combine(_state, "bundle-" + assembler.Release.Version + "-" + Guid.NewGuid().ToString("N")[..6]);
                    BundlePackager.Extract(container, dir);
                    _bundle = ModelBundle.Load(dir);
                    Version = assembler.Release.Version;
                    _installed = new Installation(_bundle, Version); // one reference write: telemetry never pairs a model with another's version
                    Installed.Add(Version);
                    _assembler = null;
                    await _client.UnsubscribeAsync(FleetTopics.AllChunks(_fleet, topic.ModelName!, topic.Version!));
                }
                finally
                {
                    _gate.Release();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            if (_reporter is not null) await _reporter;
            _stop.Dispose();
            await _client.DisposeAsync();
            _trusted.Dispose();
            _gate.Dispose();
            try
            {
                Directory.Delete(_state, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
