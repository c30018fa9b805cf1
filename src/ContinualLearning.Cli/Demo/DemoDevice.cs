using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Evaluation;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Tensors;
using ContinualLearning.Learning;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>Settings shared by every simulated device.</summary>
internal sealed record DemoDeviceContext(
    DemoOptions Options,
    FleetMqttClientOptions ClientTemplate,
    ECDsa TrustedKey,
    string StateDirectory,
    ModelBundle BaseBundle,
    ITrainingEngine Engine,
    string TransientDirectory);

/// <summary>
/// One simulated device on the real protocol: its own MQTT connection (retained status with an offline last will),
/// a paced drifting stream scored test-then-train, a learner that promotes challengers, CLD1 deltas with top-k +
/// int8 + error feedback on <c>cl/{fleet}/device/{id}/delta</c>, telemetry JSON, and signed releases fetched in
/// chunks, verified (ECDSA signature, per-chunk and bundle SHA-256), extracted, loaded and rebased onto.
/// Telemetry reports the accuracy of the installed global version only, which the aggregator's canary rule reads.
/// Learning is the real <see cref="ContinualLearner"/> (champion/challenger, replay, transient SQLite store).
/// </summary>
/// <remarks>
/// Honest devices run the daemon's <c>DeviceRuntime</c> + <c>DeviceAgent</c> (<see cref="DemoAgentDevice"/>) by
/// default; this class is what poisoned devices run (<c>--poison</c>: the attacker's modified client sign-flips its
/// deltas) and what honest devices run with <c>--demo-device</c>. Both speak the same protocol.
/// </remarks>
internal sealed class DemoDevice : IDemoDevice
{
    private const int TelemetryEvery = 50;
    private const int MinVersionSamples = 25;
    private const float PoisonFactor = 5;

    private readonly DemoDeviceContext _context;
    private readonly DeviceStats _stats;
    private readonly DemoState _state;
    private readonly FleetMqttClient _client;
    private ContinualLearner _learner = null!;
    private readonly ErrorFeedback _errorFeedback = new();
    private readonly ConcurrentQueue<(Release Release, ModelBundle Bundle)> _installs = new();
    private readonly Dictionary<string, ModelBundle> _bundleCache = new(StringComparer.Ordinal);
    private readonly Lock _releaseLock = new();
    private readonly PrequentialAccuracy _accuracy;
    private PrequentialAccuracy _versionAccuracy;
    private readonly string _fleet;
    private readonly string _model;
    private BundleAssembler? _assembler;
    private string _fetching = "";
    private IReadOnlyList<NamedTensor> _lastFed;
    private string _installedVersion = DemoScenario.BaseVersion;
    private PromotedEventArgs? _lastPromotion;
    private long _sinceTraining;

    public DemoDevice(DemoDeviceContext context, DeviceStats stats, DemoState state)
    {
        _context = context;
        _stats = stats;
        _state = state;
        _fleet = context.Options.Fleet;
        _model = context.Options.ModelName;
        var id = stats.Id;
        _accuracy = new PrequentialAccuracy(context.Options.CanaryWindow);
        _versionAccuracy = new PrequentialAccuracy(context.Options.CanaryWindow);
        _lastFed = context.BaseBundle.HeadWeights;
        _client = new FleetMqttClient(context.ClientTemplate with
        {
            ClientId = $"{_fleet}-{id}",
            CleanStart = true,
            Will = new FleetWill(FleetTopics.Status(_fleet, id), FleetJson.Serialize(DeviceStatus.Offline(id))),
            Birth = new FleetBirth(FleetTopics.Status(_fleet, id), () => FleetJson.Serialize(Status(DeviceState.Online))),
        });
        _client.MessageReceived += OnMessageAsync;
        _client.HandlerFailed += (m, ex) => _state.Event($"{_stats.Id}: could not handle '{m.Topic}': {ex.Message}");
    }

    /// <summary>Deltas are published synchronously on the device's loop: none is ever pending.</summary>
    public int PendingDeltas => 0;

    private string Cohort => _stats.Shard.Canary ? "canary" : "all";

    public async Task ConnectAsync(CancellationToken ct)
    {
        var o = _context.Options;
        var transient = _context.TransientDirectory;
        // The device's learning loop: the real ContinualLearner with its model store (checkpoints) on disk and its
        // labelled samples in a transient SQLite database on tmpfs, deleted when the device stops.
        _learner = await ContinualLearner.OpenAsync(new LearnerOptions
        {
            ModelStoreDirectory = Path.Combine(_context.StateDirectory, _stats.Id, "models"),
            BaseBundlePath = _context.BaseBundle.Directory,
            StorePath = Path.Combine(transient, _stats.Id + ".db"),
            AllowPersistentStore = !transient.StartsWith("/dev/shm", StringComparison.Ordinal),
            DeleteStoreOnDispose = true,
            ReplayCapacity = DemoScenario.ReplayCapacity,
            AccuracyWindow = o.CanaryWindow,
            Challenger = DemoScenario.Challenger(o, _stats.Id),
        }, _context.Engine, cancellationToken: ct);
        _learner.Promoted += (_, e) => _lastPromotion = e;
        await _client.StartAsync(ct);
        await _client.SubscribeAsync(FleetTopics.Release(_fleet, _model), cancellationToken: ct);
        _stats.Online = true;
    }

    /// <summary>Streams the device's samples at the demo's pace; returns when the shard is used up.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var options = _context.Options;
        var interval = options.Duration.TotalMilliseconds / options.SamplesPerDevice;
        var clock = Stopwatch.StartNew();
        long t = 0;
        foreach (var sample in _stats.Shard.Stream)
        {
            if (t >= options.SamplesPerDevice) break;
            ct.ThrowIfCancellationRequested();
            await InstallPendingAsync(ct);

            // Serve, then the label arrives ("log and wait"): the prediction is scored before the label is learned.
            var prediction = _learner.Predict(sample.Features);
            var predicted = prediction.LabelIndex;
            _accuracy.Update(sample.Label, predicted);
            _versionAccuracy.Update(sample.Label, predicted);
            _learner.Label(prediction.SampleId, sample.Label);
            _sinceTraining++;
            t++;
            _stats.Samples = t;
            _stats.Concept = _stats.Shard.ConceptAt(t);
            _stats.Accuracy = _accuracy.WindowedAccuracy;

            if (_sinceTraining >= options.TrainEvery) await TrainAndSendAsync(ct);
            if (t % TelemetryEvery == 0) await PublishTelemetryAsync(ct);

            var ahead = t * interval - clock.Elapsed.TotalMilliseconds;
            if (ahead >= 5) await Task.Delay(TimeSpan.FromMilliseconds(ahead), ct);
        }
        await PublishTelemetryAsync(ct);
        _stats.Finished = true;
    }

    public async Task StopAsync()
    {
        // A clean shutdown still leaves "offline" as the retained status: the broker publishes the will.
        await _client.StopAsync(publishWill: true);
        _stats.Online = false;
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisposeAsync();
        if (_learner is not null) await _learner.DisposeAsync();
    }

    private async Task TrainAndSendAsync(CancellationToken ct)
    {
        _sinceTraining = 0;
        _lastPromotion = null;
        var round = await _learner.TrainNowAsync("demo: every " + _context.Options.TrainEvery + " labels", ct);
        if (round is null) return;
        _stats.TrainingRuns++;
        if (!round.Promoted || _lastPromotion is not { } promotion) return;
        _stats.Promotions++;

        // Error feedback needs the increment since the last call, not the cumulative challenger − base.
        var champion = promotion.ChampionWeights;
        var increment = Delta.Compute(champion, _lastFed);
        _lastFed = champion;
        var tensors = _errorFeedback.Compress(increment, new DeltaCompressionOptions(_context.Options.DeltaFraction, DeltaEncoding.Int8));
        if (_stats.Shard.Poisoned) tensors = tensors.Select(SignFlip).ToArray();
        var delta = new WeightDelta(
            new DeltaHeader(_model, promotion.BaseVersion, _stats.Id, Guid.NewGuid(), promotion.SamplesUsed,
                new Dictionary<string, double> { ["holdoutAccuracy"] = promotion.Decision.ChallengerMetric, ["championAccuracy"] = promotion.Decision.ChampionMetric },
                DateTimeOffset.UtcNow),
            tensors);
        var payload = DeltaCodec.Encode(delta);
        _stats.DeltaNormSum += Delta.L2Norm(delta);
        _stats.DeltaNormCount++;
        await _client.PublishAsync(FleetTopics.DeltaTopic(_fleet, _stats.Id), payload, cancellationToken: ct);
        _stats.DeltasSent++;
        _stats.BytesSent += payload.Length;
    }

    /// <summary>The attack of <c>--poison</c>: the delta pointed the other way and amplified, at the same wire size.</summary>
    private static TensorDelta SignFlip(TensorDelta t) =>
        new(t.Name, t.Shape, t.Encoding, t.Scale * PoisonFactor, t.Indices, t.Values.Select(v => -PoisonFactor * v).ToArray());

    private async Task PublishTelemetryAsync(CancellationToken ct)
    {
        var extra = new Dictionary<string, double>
        {
            ["samples"] = _stats.Samples,
            ["promotions"] = _stats.Promotions,
            ["deltasSent"] = _stats.DeltasSent,
            ["bytesSent"] = _stats.BytesSent,
        };
        var telemetry = new Telemetry
        {
            DeviceId = _stats.Id,
            Timestamp = DateTimeOffset.UtcNow,
            ModelVersion = _installedVersion,
            BaseVersion = _installedVersion,
            // Only what the installed version served counts: the aggregator's canary rule reads it per model version.
            Accuracy = _versionAccuracy.Count >= MinVersionSamples ? _versionAccuracy.WindowedAccuracy : null,
            AccuracyWindow = _versionAccuracy.WindowSize,
            Extra = extra,
        };
        await _client.PublishAsync(FleetTopics.Telemetry(_fleet, _stats.Id), FleetJson.Serialize(telemetry), cancellationToken: ct);
    }

    private DeviceStatus Status(DeviceState state) => new()
    {
        DeviceId = _stats.Id,
        State = state,
        Timestamp = DateTimeOffset.UtcNow,
        ModelName = _model,
        ModelVersion = _installedVersion,
        BaseVersion = _installedVersion,
        Engine = _context.Engine.Name,
        Cohort = Cohort,
        SamplesSeen = _stats.Samples,
        TrainingRuns = _stats.TrainingRuns,
        DeltasSent = _stats.DeltasSent,
    };

    /// <summary>Applies a verified release on the device's own loop, so the learner is never touched from two threads.</summary>
    private async Task InstallPendingAsync(CancellationToken ct)
    {
        while (_installs.TryDequeue(out var item))
        {
            var (release, bundle) = item;
            if (release.Version == _installedVersion) continue;
            await _learner.RebaseAsync(bundle, ct);
            // The rebase starts a new base: increments are measured from the new global weights from now on.
            _lastFed = bundle.HeadWeights;
            _installedVersion = release.Version;
            _stats.ModelVersion = release.Version;
            _stats.ReleasesInstalled++;
            _versionAccuracy = new PrequentialAccuracy(_context.Options.CanaryWindow);
            _ = _client.PublishAsync(FleetTopics.Status(_fleet, _stats.Id), FleetJson.Serialize(Status(DeviceState.Online)), retain: true);
        }
    }

    private async Task OnMessageAsync(FleetMessage message)
    {
        var topic = FleetTopics.TryParse(message.Topic);
        if (topic is null || message.Payload.Length == 0) return;
        if (topic.Kind == FleetTopicKind.ModelRelease) await OnReleaseAsync(FleetJson.ReadRelease(message.Payload));
        else if (topic.Kind == FleetTopicKind.ModelChunk) OnChunk(BundleChunk.Decode(message.Payload));
    }

    private async Task OnReleaseAsync(Release release)
    {
        if (release.ModelName != _model) return;
        var verdict = ReleaseSigner.Verify(release, _context.TrustedKey);
        if (!verdict.Ok)
        {
            // E.g. a retained release left on an external broker by an earlier run with another key.
            _state.Event($"{_stats.Id}: ignored release {release.Version}: {verdict.Reason}");
            return;
        }
        if (release.Cohort == "canary" && !_stats.Shard.Canary) return;
        string? subscribe = null;
        lock (_releaseLock)
        {
            if (release.Version == _installedVersion || release.Version == _fetching) return;
            if (_bundleCache.TryGetValue(release.Version, out var cached))
            {
                _installs.Enqueue((release, cached));
                return;
            }
            _fetching = release.Version;
            var dir = Path.Combine(_context.StateDirectory, _stats.Id, "incoming", release.Version);
            _assembler = new BundleAssembler(release, _context.TrustedKey, dir);
            subscribe = FleetTopics.AllChunks(_fleet, _model, release.Version);
        }
        await _client.SubscribeAsync(subscribe);
    }

    private void OnChunk(BundleChunk chunk)
    {
        Release release;
        byte[]? container;
        lock (_releaseLock)
        {
            if (_assembler is null || chunk.Version != _assembler.Release.Version) return;
            var result = _assembler.Accept(chunk);
            if (result.Status == ChunkStatus.Rejected)
            {
                _state.Event($"{_stats.Id}: rejected chunk {chunk.Index} of {chunk.Version}: {result.Reason}");
                return;
            }
            container = _assembler.TryAssemble();
            if (container is null) return;
            release = _assembler.Release;
            _assembler.Clear();
            _assembler = null;
            _fetching = "";
        }
        _ = _client.UnsubscribeAsync(FleetTopics.AllChunks(_fleet, _model, release.Version));
        var bundleDir = Path.Combine(_context.StateDirectory, _stats.Id, "models", release.Version);
        if (Directory.Exists(bundleDir)) Directory.Delete(bundleDir, recursive: true);
        BundlePackager.Extract(container, bundleDir);
        var bundle = ModelBundle.Load(bundleDir);
        if (bundle.Manifest.Version != release.Version || !bundle.Head.Equals(DemoScenario.Head))
        {
            _state.Event($"{_stats.Id}: release {release.Version} holds manifest version {bundle.Manifest.Version} / head {bundle.Head}; not installed.");
            return;
        }
        lock (_releaseLock) _bundleCache[release.Version] = bundle;
        _installs.Enqueue((release, bundle));
    }
}
