using System.Security.Cryptography;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Console;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Inbox;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Fleet;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Aggregator;

/// <summary>
/// The central service: receives deltas over MQTT (a shared subscription when the broker has them), validates them,
/// buffers them durably in the registry, aggregates every K deltas or T seconds with the configured strategy, gates
/// the candidate on a holdout set, and rolls it out canary-first with automatic promotion or rollback. It wires the
/// parts that do each job (<see cref="DeltaValidator"/>, <see cref="AggregationCycle"/>, <see cref="HoldoutGate"/>,
/// <see cref="RolloutCoordinator"/>, <see cref="ModelRegistry"/>) to MQTT and a timer.
/// Use in-process (tests, <c>cl demo</c>) via <see cref="StartAsync"/>/<see cref="DisposeAsync"/>, or hosted via
/// <see cref="AggregatorHostedService"/> (<c>cl aggregator run</c>).
/// </summary>
public sealed partial class AggregatorService : IAsyncDisposable, IOperatorActions
{
    private readonly AggregatorOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly AggregatorMetrics _metrics = new();
    private readonly DeviceDirectory _devices;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _work = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private ModelRegistry? _registry;
    private DeltaIntake? _intake;
    private Journal? _journal;
    private AggregationCycle? _cycle;
    private RolloutCoordinator? _rollout;
    private Clustering.ClusterFleet? _clusters;
    private FleetInbox? _inbox;
    private RetentionSchedule? _retention;
    private ECDsa? _key;
    private ECDsa? _commandKey;
    private readonly FleetConsole? _console;
    private Task? _loop;

    /// <param name="options">Validated here; throws with the field and value when something is out of range.</param>
    /// <param name="logger">Where the service logs; none when null.</param>
    /// <param name="time">Clock for timestamps, the aggregation trigger and the canary window; <see cref="TimeProvider.System"/> when null.</param>
    public AggregatorService(AggregatorOptions options, ILogger<AggregatorService>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _devices = new DeviceDirectory(_logger);
        Counters = new DeltaCounters(_metrics);
        _metrics.Observe(() => Canary?.CandidateVersion, () => _inbox?.Client.IsConnected == true);
        if (options.Console.Listen is not null)
        {
            var console = _console = new FleetConsole(options, _devices, _metrics, _time, _logger);
            VersionCreated += console.VersionCreated;
            Decided += console.Decided;
        }
    }

    /// <summary>Where the fleet console is served (e.g. http://127.0.0.1:8480/), or null when console:listen is unset or before start.</summary>
    public Uri? ConsoleAddress => _console?.Address;

    /// <summary>The console's part, for tests; null without console:listen.</summary>
    internal FleetConsole? Console => _console;

    /// <summary>The service's meter and registry health (the /metrics endpoint reads them).</summary>
    internal AggregatorMetrics Metrics => _metrics;

    public AggregatorOptions Options => _options;

    /// <summary>Accepted and rejected deltas by reason, since start, as counted by the service's meter (the registry holds the persistent record).</summary>
    public DeltaCounters Counters { get; }

    public ModelRegistry Registry => _registry ?? throw NotStarted();

    public IReadOnlyCollection<KnownDevice> Devices => _devices.All;

    /// <summary>The canary being watched, or null.</summary>
    public CanaryWatch? Canary => _rollout?.Canary;

    /// <summary>Raised after each aggregation with the new version record (candidate or rejected).</summary>
    public event Action<ModelVersionRecord>? VersionCreated;

    /// <summary>Raised after a canary or direct release decision (version, decision).</summary>
    public event Action<string, DecisionKind>? Decided;

    /// <summary>Opens the registry, loads the key and the global model, connects, subscribes and starts the aggregation loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var registry = _registry = ModelRegistry.Open(_options.RegistryLocation, _time);
        var global = registry.Latest(_options.ModelName, VersionStatus.Released)
            ?? throw new InvalidOperationException($"The registry ({_options.RegistryLocation.Describe()}) has no released version of model '{_options.ModelName}'. Seed it with `cl model publish <bundle-dir> --registry {_options.RegistryPath}{(_options.RegistryConnectionString is null ? "" : " --registry-connection <connection string>")}`.");
        var model = RegistryModels.Load(registry, global);
        var layouts = new ReleaseLayouts(registry, _options.ModelName);
        _journal = new Journal(registry, _metrics, _logger, _options.Retention);
        var validation = new RegistryValidationContext(registry, _options.ModelName, layouts);
        _intake = new DeltaIntake(registry, () => _clusters?.Validation() ?? validation.Snapshot(), _journal, _options, _metrics, _logger, () => _wake.Release());
        _retention = new RetentionSchedule(registry, _options.Retention, _journal, _metrics, _logger);
        var gate = _options.Holdout is { } holdout ? new HoldoutGate(HoldoutSet.Load(holdout, model.Bundle.Manifest), holdout.Margin) : null;
        _cycle = new AggregationCycle(registry, layouts, _options, gate, _journal, _metrics, _time, _logger);
        _key = ReleaseKeys.LoadPrivate(_options.PrivateKeyPath);

        var head = model.Bundle.Head.Parameters().ToList();
        var maxDelta = _options.Inbox.MaxDeltaBytes ?? FleetLimits.MaxDeltaPayloadBytes(head.Sum(p => (long)p.Shape.Aggregate(1, (a, b) => a * b)), head.Count);
        _inbox = new FleetInbox(_options, new FleetHandlers(deltas => _intake.Store(deltas), ReceiveTelemetry, ReceiveStatus), maxDelta, _metrics, _time, _logger);
        _commandKey = _options.CommandKeyPath is { } commandKey ? ReleaseKeys.LoadPrivate(commandKey) : null;
        var publisher = new ReleasePublisher(_inbox.Client, _options.Fleet, _key, _options.Rollout.ChunkSize, _time, _commandKey);
        _rollout = new RolloutCoordinator(registry, _options, publisher, _journal, _time, _logger, (v, d) => Decided?.Invoke(v, d));
        if (_options.Aggregation.Clustering.Enabled)
        {
            // Every cluster is a model with its own round and rollout; cluster 0's rollout is the service's (operator actions, canary gauge).
            var step = new Clustering.ClusteringStep(registry, _options, _journal, _metrics, _key, _time, _logger);
            _clusters = new Clustering.ClusterFleet(registry, _options, gate, _journal, _metrics, publisher, step,
                new Clustering.ClusterFleetHooks(v => VersionCreated?.Invoke(v), PublishDirectoryAsync), _time, _logger, (v, d) => Decided?.Invoke(v, d));
            _clusters.Open();
            _rollout = _clusters.Base.Rollout;
        }
        await _inbox.StartAsync(cancellationToken).ConfigureAwait(false);
        var pending = registry.Deltas.PendingCount(_options.ModelName);
        LogServing(_logger, _options.InstanceId, _options.ModelName, global.Version, _options.Fleet, pending);

        if (_clusters is not null) await _clusters.StartAsync(() => _devices.Online, cancellationToken).ConfigureAwait(false);
        else await _rollout.ResumeAsync(_devices.Online, cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        if (_console is not null) await _console.StartAsync(registry, this, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Validates and, when it passes, durably buffers one delta. Public so tests and the demo can feed it directly.</summary>
    public DeltaVerdict Receive(string topicDeviceId, ReadOnlySpan<byte> payload) =>
        (_intake ?? throw NotStarted()).Store([new ReceivedDelta(topicDeviceId, payload.ToArray())])[0];

    /// <summary>The group commit's batches so far, or null when each delta is stored on its own (benchmarks, tests).</summary>
    internal DeltaBatcher? Batcher => _inbox?.Batcher;

    /// <summary>
    /// Aggregates the buffered deltas when the trigger fires (K buffered, or the oldest older than T with at least the
    /// minimum), or always when <paramref name="force"/> — then gates and starts the rollout. Null when nothing happened.
    /// </summary>
    public async Task<ModelVersionRecord?> AggregateAsync(bool force = false, CancellationToken cancellationToken = default) =>
        await AggregateAllAsync(force, cancellationToken).ConfigureAwait(false) is [var first, ..] ? first : null;

    /// <summary>
    /// <see cref="AggregateAsync"/> for every model the service serves: with clustering on, the clustering step and then
    /// each live cluster's round (cluster 0 first); without it, the one model. The versions made, after their rollout started.
    /// </summary>
    public async Task<IReadOnlyList<ModelVersionRecord>> AggregateAllAsync(bool force = false, CancellationToken cancellationToken = default)
    {
        await _work.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_clusters is not null) return await _clusters.AggregateAsync(force, () => _devices.Online, cancellationToken).ConfigureAwait(false);
            var created = (_cycle ?? throw NotStarted()).Run(force);
            if (created is null) return [];
            VersionCreated?.Invoke(created);
            if (created.Status == VersionStatus.Candidate) await _rollout!.StartAsync(created, _devices.Online, cancellationToken).ConfigureAwait(false);
            return [Registry.GetVersion(created.Name, created.Version)!];
        }
        finally
        {
            _work.Release();
        }
    }

    /// <summary>Evaluates the running canary now; returns the decision (Wait when undecided), or null when no canary runs.</summary>
    public async Task<RolloutDecision?> CheckRolloutAsync(CancellationToken cancellationToken = default)
    {
        await _work.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_clusters is not null) return await _clusters.CheckAsync(() => _devices.Online, cancellationToken).ConfigureAwait(false);
            return _rollout is null ? null : await _rollout.CheckAsync(_devices.Online, cancellationToken).ConfigureAwait(false);
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
        _console?.TelemetryReceived(deviceId, telemetry, receivedAt);
        // A device that fine-tuned serves a local pre-release of its base release; the canary compares releases.
        if (telemetry.Accuracy is { } accuracy && (telemetry.BaseVersion ?? telemetry.ModelVersion) is { } version)
        {
            var report = new AccuracyReport(deviceId, version, accuracy, receivedAt, telemetry.Timestamp);
            // With clustering, a device's telemetry counts for the canary of the cluster whose model it serves.
            if (_clusters is not null) _clusters.Report(report, Clustering.ClusterFleet.ServedCluster(telemetry));
            else _rollout?.Report(report);
        }
    }

    /// <summary>Applies a device's retained status (the MQTT handler does this; public for tests).</summary>
    public void ReceiveStatus(string deviceId, byte[] payload, DateTimeOffset receivedAt)
    {
        _devices.Apply(deviceId, payload, receivedAt);
        _console?.StatusChanged();
    }

    public async Task StopAsync()
    {
        if (_console is not null) await _console.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        if (_inbox is not null) await _inbox.DisposeAsync().ConfigureAwait(false);
        _inbox = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_console is not null) await _console.DisposeAsync().ConfigureAwait(false);
        _registry?.Dispose();
        _key?.Dispose();
        _commandKey?.Dispose();
        Counters.Dispose();
        _metrics.Dispose();
        _stop.Dispose();
        _wake.Dispose();
        _work.Dispose();
    }

    async Task<IReadOnlyList<string>> IOperatorActions.RollbackAsync(string model, string version, string actor, CancellationToken cancellationToken)
    {
        var done = await OperatorAsync(model, version, DecisionKind.ManualRollback, target => OperatorReleases.Rollback(Registry, target, actor), cancellationToken).ConfigureAwait(false);
        return done.RolledBack;
    }

    async Task<string> IOperatorActions.PublishAsync(string model, string version, string actor, CancellationToken cancellationToken)
    {
        var done = await OperatorAsync(model, version, DecisionKind.Published, target => OperatorReleases.Publish(Registry, target, actor), cancellationToken).ConfigureAwait(false);
        return done.Target.Status;
    }

    async Task<string> IOperatorActions.SendCommandAsync(string deviceId, Command command, ECDsa key, CancellationToken cancellationToken)
    {
        var signed = CommandSigner.Sign(command, key, _options.Fleet, deviceId, _time.GetUtcNow(), CommandLimits.Default.MaxLifetime);
        var client = (_inbox ?? throw NotStarted()).Client;
        await client.PublishAsync(Fleet.Topics.FleetTopics.Command(_options.Fleet, deviceId), FleetJson.Serialize(signed), contentType: "application/json", cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return signed.CommandId;
    }

    /// <summary>
    /// An operator's rollback or publish of <paramref name="model"/> (the configured model, or a live cluster model under
    /// concept-aware aggregation): decided under the service's work lock (no tick runs meanwhile), then sent by that
    /// model's rollout outbox.
    /// </summary>
    private async Task<OperatorRelease> OperatorAsync(string model, string version, DecisionKind kind, Func<ModelVersionRecord, OperatorRelease> decide, CancellationToken cancellationToken)
    {
        await _work.WaitAsync(cancellationToken).ConfigureAwait(false);
        OperatorRelease done;
        try
        {
            var rollout = model == _options.ModelName ? _rollout
                : _clusters?.Units.FirstOrDefault(u => u.ModelName == model)?.Rollout
                    ?? throw new InvalidOperationException($"{model} is not a live cluster model of {_options.ModelName} on this aggregator.");
            var target = Registry.GetVersion(model, version)
                ?? throw new InvalidOperationException($"Version {version} of {model} is not in the registry.");
            done = decide(target);
            await rollout!.PublishPendingAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _work.Release();
        }
        Decided?.Invoke(version, kind);
        return done;
    }

    /// <summary>Puts a signed cluster directory on its retained topic (concept-aware aggregation).</summary>
    private Task PublishDirectoryAsync(ClusterDirectory directory, CancellationToken cancellationToken) =>
        (_inbox ?? throw NotStarted()).Client.PublishAsync(Fleet.Topics.FleetTopics.Clusters(_options.Fleet, directory.ModelName), FleetJson.Serialize(directory),
            retain: true, contentType: "application/json", cancellationToken: cancellationToken);

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await WaitForTickAsync(stop).ConfigureAwait(false);
                await AggregateAsync(force: false, stop).ConfigureAwait(false);
                await CheckRolloutAsync(stop).ConfigureAwait(false);
                _retention?.RunIfDue();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Keep serving: the pending deltas stay in the registry and the next tick tries again.
                LogLoopFailed(_logger, ex);
            }
        }
    }

    /// <summary>Returns when a full buffer wakes the loop or a tick of the service's clock has passed.</summary>
    private async Task WaitForTickAsync(CancellationToken stop)
    {
        using var tick = new CancellationTokenSource(_options.Tick, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, tick.Token);
        try
        {
            await _wake.WaitAsync(either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            // The tick elapsed: look at the buffer's age and the canary anyway.
        }
    }

    private static InvalidOperationException NotStarted() => new("The aggregator is not started; call StartAsync first.");

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Aggregator {Instance} serving {Model} (global {Version}) on fleet {Fleet}; {Pending} deltas pending from before")]
    private static partial void LogServing(ILogger logger, string instance, string model, string version, string fleet, int pending);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Aggregation loop failed; retrying on the next tick")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);
}
