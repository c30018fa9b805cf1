using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Streams;
using ContinualLearning.Training;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Aggregator;

/// <summary>What the aggregator knows about a device from its retained status.</summary>
public sealed record KnownDevice(string DeviceId, DeviceState State, string? ModelVersion, string? Cohort, DateTimeOffset LastSeen);

/// <summary>
/// The central service: receives deltas over MQTT (a shared subscription when the broker has them), validates them,
/// buffers them durably in the registry, aggregates every K deltas or T seconds with the configured strategy, gates
/// the candidate on a holdout set, and rolls it out canary-first with automatic promotion or rollback.
/// Use in-process (tests, <c>cl demo</c>) via <see cref="StartAsync"/>/<see cref="DisposeAsync"/>, or hosted via
/// <see cref="AggregatorHostedService"/> (<c>cl aggregator run</c>).
/// </summary>
public sealed class AggregatorService : IAsyncDisposable, IDeltaValidationContext
{
    private readonly AggregatorOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, KnownDevice> _devices = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _work = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<string> _toldCanary = new(StringComparer.Ordinal);
    private ModelRegistry? _registry;
    private FleetMqttClient? _client;
    private ReleasePublisher? _publisher;
    private ECDsa? _key;
    private IReadOnlyList<Sample>? _holdout;
    private HeadSpec? _head;
    private CanaryWatch? _watch;
    private Task? _loop;

    public AggregatorService(AggregatorOptions options, ILogger<AggregatorService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public AggregatorOptions Options => _options;

    /// <summary>Accepted and rejected deltas by reason, since start (the registry holds the persistent record).</summary>
    public DeltaCounters Counters { get; } = new();

    public ModelRegistry Registry => _registry ?? throw new InvalidOperationException("The aggregator is not started; call StartAsync first.");

    public IReadOnlyCollection<KnownDevice> Devices => _devices.Values.ToArray();

    /// <summary>The canary being watched, or null.</summary>
    public CanaryWatch? Canary => _watch;

    /// <summary>Raised after each aggregation with the new version record (candidate or rejected).</summary>
    public event Action<ModelVersionRecord>? VersionCreated;

    /// <summary>Raised after a canary or direct release decision (version, decision).</summary>
    public event Action<string, string>? Decided;

    string IDeltaValidationContext.ModelName => _options.ModelName;

    HeadSpec IDeltaValidationContext.Head => _head ?? throw new InvalidOperationException("No global model loaded.");

    int? IDeltaValidationContext.ReleasesSince(string baseVersion) => Registry.ReleasesSince(_options.ModelName, baseVersion);

    bool IDeltaValidationContext.IsRolledBack(string baseVersion) => Registry.GetVersion(_options.ModelName, baseVersion)?.Status == VersionStatus.RolledBack;

    bool IDeltaValidationContext.IsSeen(Guid deltaId) => Registry.IsSeen(deltaId.ToString("D"));

    /// <summary>Opens the registry, loads the key and the global model, connects, subscribes and starts the aggregation loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        _registry = ModelRegistry.Open(_options.RegistryPath);
        var global = _registry.Latest(_options.ModelName, VersionStatus.Released)
            ?? throw new InvalidOperationException($"The registry '{_registry.Directory}' has no released version of model '{_options.ModelName}'. Seed it with `cl model publish <bundle-dir> --registry {_options.RegistryPath}`.");
        var model = RegistryModels.Load(_registry, global);
        _head = model.Bundle.Head;
        if (_options.Holdout is { } holdout) _holdout = HoldoutEvaluator.LoadSamples(holdout, model.Bundle.Manifest);
        _key = ReleaseKeys.LoadPrivate(_options.PrivateKeyPath);

        _client = new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = _options.InstanceId,
            Host = _options.BrokerHost,
            Port = _options.BrokerPort,
            Username = _options.Username,
            Password = _options.Password,
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(5),
        });
        _client.MessageReceived += OnMessageAsync;
        _client.HandlerFailed += (m, ex) => _logger.LogError(ex, "Handling {Topic} failed", m.Topic);
        _publisher = new ReleasePublisher(_client, _options.Fleet, _key, _options.Rollout.ChunkSize);
        var deltas = FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceDelta);
        await _client.SubscribeAsync(_options.SharedSubscription ? $"$share/{_options.ShareGroup}/{deltas}" : deltas, cancellationToken: cancellationToken);
        await _client.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceTelemetry), cancellationToken: cancellationToken);
        await _client.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceStatus), cancellationToken: cancellationToken);
        await _client.StartAsync(cancellationToken);
        _logger.LogInformation("Aggregator {Instance} serving {Model} (global {Version}) on fleet {Fleet}; {Pending} deltas pending from before",
            _options.InstanceId, _options.ModelName, global.Version, _options.Fleet, _registry.PendingCount(_options.ModelName));

        await ResumeRolloutAsync(cancellationToken);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Validates and, when it passes, durably buffers one delta. Public so tests and the demo can feed it directly.</summary>
    public DeltaVerdict Receive(string topicDeviceId, ReadOnlySpan<byte> payload)
    {
        var verdict = DeltaValidator.Validate(topicDeviceId, payload, this, _options.Validation);
        if (verdict.Accepted)
        {
            var h = verdict.Delta!.Header;
            var stored = Registry.TryAcceptDelta(_options.ModelName, new PendingDelta(h.DeltaId.ToString("D"), h.DeviceId, h.BaseVersion, h.SampleCount, DateTimeOffset.UtcNow, payload.ToArray()));
            if (!stored)
                verdict = DeltaVerdict.Reject(RejectionReason.Duplicate, $"delta {h.DeltaId} from '{h.DeviceId}': delta id already accepted; not counted again.", verdict.Delta);
        }
        if (verdict.Accepted)
        {
            Counters.CountAccepted();
            _logger.LogDebug("{Message}", verdict.Message);
            if (Registry.PendingCount(_options.ModelName) >= _options.Aggregation.BufferSize) _wake.Release();
        }
        else
        {
            Counters.CountRejected(verdict.Reason!.Value);
            var h = verdict.Delta?.Header;
            Registry.RecordRejection(new RejectionRecord(DateTimeOffset.UtcNow, h?.DeviceId ?? topicDeviceId, h?.DeltaId.ToString("D"), Kebab(verdict.Reason.Value), verdict.Message));
            _logger.LogWarning("Rejected ({Reason}): {Message}", Kebab(verdict.Reason.Value), verdict.Message);
        }
        return verdict;
    }

    /// <summary>
    /// Aggregates the buffered deltas when the trigger fires (K buffered, or the oldest older than T with at least the
    /// minimum), or always when <paramref name="force"/> — then gates and starts the rollout. Null when nothing happened.
    /// </summary>
    public async Task<ModelVersionRecord?> AggregateAsync(bool force = false, CancellationToken cancellationToken = default)
    {
        await _work.WaitAsync(cancellationToken);
        try
        {
            var created = Aggregate(force, DateTimeOffset.UtcNow);
            if (created is null) return null;
            VersionCreated?.Invoke(created);
            if (created.Status == VersionStatus.Candidate) await StartRolloutAsync(created, cancellationToken);
            return Registry.GetVersion(created.Name, created.Version);
        }
        finally
        {
            _work.Release();
        }
    }

    /// <summary>Evaluates the running canary now; returns the decision (Wait when undecided), or null when no canary runs.</summary>
    public async Task<RolloutDecision?> CheckRolloutAsync(CancellationToken cancellationToken = default)
    {
        await _work.WaitAsync(cancellationToken);
        try
        {
            return await CheckRolloutCoreAsync(DateTimeOffset.UtcNow, cancellationToken);
        }
        finally
        {
            _work.Release();
        }
    }

    /// <summary>Feeds one telemetry report (the MQTT handler does this; public for tests).</summary>
    public void ReceiveTelemetry(string deviceId, Telemetry telemetry, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        // A device that fine-tuned serves a local pre-release of its base release; the canary compares releases.
        if (telemetry.Accuracy is { } accuracy && (telemetry.BaseVersion ?? telemetry.ModelVersion) is { } version)
            _watch?.Add(new AccuracyReport(deviceId, version, accuracy, receivedAt));
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (_client is not null) await _client.DisposeAsync();
        _client = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _registry?.Dispose();
        _key?.Dispose();
        _stop.Dispose();
        _wake.Dispose();
        _work.Dispose();
    }

    // ---------------------------------------------------------------- aggregation

    private ModelVersionRecord? Aggregate(bool force, DateTimeOffset now)
    {
        var registry = Registry;
        var name = _options.ModelName;
        var agg = _options.Aggregation;
        return registry.InTransaction(() =>
        {
            // One rollout at a time: while a canary runs, deltas keep arriving and stay buffered.
            if (registry.Latest(name, VersionStatus.Canary) is not null) return null;
            var pending = registry.ListPending(name);
            if (pending.Count == 0) return null;
            var due = pending.Count >= agg.BufferSize || (pending.Count >= agg.MinDeltas && now - pending.Min(p => p.Received) >= agg.MaxWait);
            if (!force && !due) return null;

            var globalRecord = registry.Latest(name, VersionStatus.Released)!;
            var global = RegistryModels.Load(registry, globalRecord);
            var head = global.Bundle.Head;
            var updates = new List<WeightedUpdate>();
            var used = new List<PendingDelta>();
            var dropped = new List<string>();
            double stalenessSum = 0;
            foreach (var p in pending)
            {
                // Re-checked now: releases and rollbacks since the delta arrived may have made it unusable.
                var staleness = registry.ReleasesSince(name, p.BaseVersion);
                var baseStatus = registry.GetVersion(name, p.BaseVersion)?.Status;
                string? problem = staleness is null ? "unknown-base-version"
                    : baseStatus == VersionStatus.RolledBack ? "rolled-back-base"
                    : staleness > _options.Validation.MaxStaleness ? "too-stale" : null;
                if (problem is not null)
                {
                    dropped.Add(p.DeltaId);
                    registry.RecordRejection(new RejectionRecord(now, p.DeviceId, p.DeltaId, problem, $"buffered delta {p.DeltaId} from '{p.DeviceId}' (base {p.BaseVersion}) dropped at aggregation: {problem}, staleness {staleness}."));
                    Counters.CountRejected(problem switch
                    {
                        "unknown-base-version" => RejectionReason.UnknownBaseVersion,
                        "rolled-back-base" => RejectionReason.RolledBackBase,
                        _ => RejectionReason.TooStale,
                    });
                    _logger.LogWarning("Dropped buffered delta {Delta} from {Device}: {Problem}", p.DeltaId, p.DeviceId, problem);
                    continue;
                }
                var vector = ParameterVector.Flatten(DeltaCodec.Decode(p.Payload), head);
                if (_options.Validation.MaxNorm is { } max && _options.Validation.NormClipMode == NormClipMode.Clip)
                    vector = AggregationStrategies.ClipToNorm(vector, max);
                updates.Add(new WeightedUpdate(vector, p.SampleCount * AggregationStrategies.StalenessDiscount(staleness!.Value, agg.StalenessAlpha)));
                used.Add(p);
                stalenessSum += staleness.Value;
            }
            if (updates.Count == 0)
            {
                registry.ConsumePending(dropped, "dropped", null);
                return null;
            }

            var update = AggregationStrategies.Aggregate(agg.Strategy, updates, agg.StrategyOptions);
            var weights = ParameterVector.Flatten(global.Bundle.HeadWeights, head);
            for (var i = 0; i < weights.Length; i++) weights[i] += (float)(agg.ServerLearningRate * update[i]);
            var newWeights = ParameterVector.Unflatten(weights, head);
            var version = registry.NextVersion(name);
            var container = RegistryModels.BuildChild(global.Bundle, version, newWeights, registry.Directory);
            var sha = registry.PutArtifact(container);

            var metrics = new Dictionary<string, double>
            {
                ["deltas"] = used.Count,
                ["dropped"] = dropped.Count,
                ["devices"] = used.Select(u => u.DeviceId).Distinct().Count(),
                ["samples"] = used.Sum(u => u.SampleCount),
                ["meanStaleness"] = stalenessSum / used.Count,
                ["updateNorm"] = AggregationStrategies.L2Norm(update) * agg.ServerLearningRate,
            };
            var status = VersionStatus.Candidate;
            if (_holdout is not null)
            {
                var candidateAccuracy = HoldoutEvaluator.Accuracy(global.Bundle.Manifest, newWeights, _holdout);
                var currentAccuracy = HoldoutEvaluator.Accuracy(global.Bundle.Manifest, global.Bundle.HeadWeights, _holdout);
                metrics["holdoutAccuracy"] = candidateAccuracy;
                metrics["holdoutBaseline"] = currentAccuracy;
                var margin = _options.Holdout!.Margin;
                var pass = candidateAccuracy >= currentAccuracy - margin;
                if (!pass) status = VersionStatus.Rejected;
                registry.RecordDecision(name, version, pass ? "holdout-pass" : "holdout-fail",
                    $"holdout accuracy {candidateAccuracy:F4} vs current {currentAccuracy:F4} (margin {margin:F4})",
                    JsonSerializer.Serialize(new Dictionary<string, double> { ["candidate"] = candidateAccuracy, ["current"] = currentAccuracy, ["margin"] = margin, ["samples"] = _holdout.Count }, AggregatorJson.Default.DictionaryStringDouble));
            }
            metrics["strategy"] = (double)agg.Strategy;
            var record = new ModelVersionRecord
            {
                Name = name,
                Version = version,
                Parent = globalRecord.Version,
                Created = now,
                Status = status,
                ArtifactSha256 = sha,
                DeltaIds = used.Select(u => u.DeltaId).ToArray(),
                DeviceIds = used.Select(u => u.DeviceId).ToArray(),
                SampleCounts = used.Select(u => u.SampleCount).ToArray(),
                MetricsJson = JsonSerializer.Serialize(metrics, AggregatorJson.Default.DictionaryStringDouble),
            };
            registry.AddVersion(record);
            registry.ConsumePending(used.Select(u => u.DeltaId), "aggregated", version);
            registry.ConsumePending(dropped, "dropped", null);
            _logger.LogInformation("Aggregated {Count} deltas from {Devices} devices into {Model} {Version} ({Strategy}, parent {Parent}): {Status}",
                used.Count, metrics["devices"], name, version, agg.Strategy, globalRecord.Version, status);
            return registry.GetVersion(name, version);
        });
    }

    // ---------------------------------------------------------------- rollout

    private async Task StartRolloutAsync(ModelVersionRecord candidate, CancellationToken cancellationToken)
    {
        var registry = Registry;
        var name = candidate.Name;
        var control = registry.Latest(name, VersionStatus.Released)!;
        var container = registry.ReadArtifact(candidate.ArtifactSha256);
        var online = _devices.Values.Where(d => d.State == DeviceState.Online).Select(d => d.DeviceId);
        var canary = _options.Rollout.Canary ? CohortAssigner.Canary(online, _options.Rollout) : [];
        if (canary.Count == 0)
        {
            if (!registry.TryTransition(name, candidate.Version, VersionStatus.Candidate, VersionStatus.Released)) return;
            var why = _options.Rollout.Canary ? "no online canary device known; released to all" : "canary disabled; released to all";
            registry.RecordDecision(name, candidate.Version, "released", why, "{}");
            await _publisher!.PublishAsync(container, name, candidate.Version, candidate.Parent, Cohorts.All, cancellationToken);
            _logger.LogInformation("Released {Model} {Version} to all ({Why})", name, candidate.Version, why);
            Decided?.Invoke(candidate.Version, "released");
            return;
        }
        if (!registry.TryTransition(name, candidate.Version, VersionStatus.Candidate, VersionStatus.Canary)) return;
        registry.RecordDecision(name, candidate.Version, "canary-started", $"canary cohort of {canary.Count} devices vs control on {control.Version}",
            JsonSerializer.Serialize(canary.ToArray(), AggregatorJson.Default.StringArray));
        _watch = new CanaryWatch(candidate.Version, control.Version, canary, DateTimeOffset.UtcNow);
        foreach (var device in canary)
        {
            if (_toldCanary.Add(device))
                await _publisher!.SetCohortAsync(device, Cohorts.Canary, _options.InstanceId, cancellationToken);
        }
        await _publisher!.PublishAsync(container, name, candidate.Version, candidate.Parent, Cohorts.Canary, cancellationToken);
        _logger.LogInformation("Canary {Model} {Version} to {Count} devices: {Devices}", name, candidate.Version, canary.Count, string.Join(", ", canary));
        Decided?.Invoke(candidate.Version, "canary-started");
    }

    private async Task<RolloutDecision?> CheckRolloutCoreAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var watch = _watch;
        if (watch is null) return null;
        var registry = Registry;
        var name = _options.ModelName;
        var current = registry.GetVersion(name, watch.CandidateVersion);
        if (current?.Status != VersionStatus.Canary)
        {
            _watch = null; // another instance decided
            return null;
        }
        var decision = watch.Decide(_options.Rollout, now);
        if (decision.Verdict == RolloutVerdict.Wait) return decision;
        if (decision.Verdict == RolloutVerdict.Promote)
        {
            if (registry.TryTransition(name, watch.CandidateVersion, VersionStatus.Canary, VersionStatus.Released))
            {
                registry.RecordDecision(name, watch.CandidateVersion, "promoted", decision.Reason, decision.ToJson());
                await _publisher!.PublishAsync(registry.ReadArtifact(current.ArtifactSha256), name, current.Version, current.Parent, Cohorts.All, cancellationToken);
                _logger.LogInformation("Promoted {Model} {Version} to all: {Reason}", name, current.Version, decision.Reason);
                Decided?.Invoke(current.Version, "promoted");
            }
        }
        else if (registry.TryTransition(name, watch.CandidateVersion, VersionStatus.Canary, VersionStatus.RolledBack))
        {
            registry.RecordDecision(name, watch.CandidateVersion, "rolled-back", decision.Reason, decision.ToJson());
            var previous = registry.GetVersion(name, watch.ControlVersion)!;
            // The previous release goes out again for everyone; canary devices see a version different from theirs and reinstall it.
            await _publisher!.PublishAsync(registry.ReadArtifact(previous.ArtifactSha256), name, previous.Version, previous.Parent, Cohorts.All, cancellationToken);
            _logger.LogWarning("Rolled back {Model} {Version} (back to {Previous}): {Reason}", name, watch.CandidateVersion, previous.Version, decision.Reason);
            Decided?.Invoke(watch.CandidateVersion, "rolled-back");
        }
        _watch = null;
        return decision;
    }

    /// <summary>After a restart: pick up a canary still running, or start the rollout of a candidate left unpublished by a crash.</summary>
    private async Task ResumeRolloutAsync(CancellationToken cancellationToken)
    {
        var registry = Registry;
        var name = _options.ModelName;
        var control = registry.Latest(name, VersionStatus.Released)!;
        if (registry.Latest(name, VersionStatus.Canary) is { } canary)
        {
            var started = registry.ListDecisions(name, canary.Version).LastOrDefault(d => d.Decision == "canary-started");
            var devices = started is null ? [] : JsonSerializer.Deserialize(started.NumbersJson, AggregatorJson.Default.StringArray) ?? [];
            _watch = new CanaryWatch(canary.Version, control.Version, devices, started?.At ?? DateTimeOffset.UtcNow);
            _logger.LogInformation("Resuming canary of {Model} {Version} ({Count} devices)", name, canary.Version, devices.Length);
        }
        else if (registry.Latest(name, VersionStatus.Candidate) is { } candidate && candidate.Seq > control.Seq)
        {
            await StartRolloutAsync(candidate, cancellationToken);
        }
    }

    // ---------------------------------------------------------------- MQTT

    private Task OnMessageAsync(FleetMessage message)
    {
        var topic = FleetTopics.TryParse(message.Topic);
        if (topic is null || topic.Fleet != _options.Fleet || topic.DeviceId is null) return Task.CompletedTask;
        switch (topic.Kind)
        {
            case FleetTopicKind.DeviceDelta:
                Receive(topic.DeviceId, message.Payload);
                break;
            case FleetTopicKind.DeviceTelemetry:
                try
                {
                    var t = FleetJson.ReadTelemetry(message.Payload);
                    if (t.DeviceId == topic.DeviceId) ReceiveTelemetry(topic.DeviceId, t, DateTimeOffset.UtcNow);
                }
                catch (FleetMessageException ex)
                {
                    _logger.LogWarning("Ignoring telemetry from {Device}: {Error}", topic.DeviceId, ex.Message);
                }
                break;
            case FleetTopicKind.DeviceStatus:
                if (message.Payload.Length == 0)
                {
                    _devices.TryRemove(topic.DeviceId, out _);
                    break;
                }
                try
                {
                    var s = FleetJson.ReadStatus(message.Payload);
                    _devices[topic.DeviceId] = new KnownDevice(topic.DeviceId, s.State, s.ModelVersion, s.Cohort, DateTimeOffset.UtcNow);
                }
                catch (FleetMessageException ex)
                {
                    _logger.LogWarning("Ignoring status from {Device}: {Error}", topic.DeviceId, ex.Message);
                }
                break;
        }
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(_options.Tick, stop);
                await AggregateAsync(force: false, stop);
                await CheckRolloutAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Keep serving: the pending deltas stay in the registry and the next tick tries again.
                _logger.LogError(ex, "Aggregation loop failed; retrying on the next tick");
            }
        }
    }

    internal static string Kebab(RejectionReason reason) =>
        string.Concat(reason.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}

/// <summary>Runs an <see cref="AggregatorService"/> under the .NET Generic Host (<c>cl aggregator run</c>).</summary>
public sealed class AggregatorHostedService(AggregatorOptions options, ILogger<AggregatorService> logger) : IHostedService, IAsyncDisposable
{
    private readonly AggregatorService _service = new(options, logger);

    public AggregatorService Service => _service;

    public Task StartAsync(CancellationToken cancellationToken) => _service.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _service.StopAsync();

    public ValueTask DisposeAsync() => _service.DisposeAsync();
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class AggregatorJson : System.Text.Json.Serialization.JsonSerializerContext;
