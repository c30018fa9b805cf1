using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Device.Outbox;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The device's MQTT side, usable without the host. A façade that wires small parts to one broker connection:
/// <see cref="DeltaPublisher"/> (promotions → deltas with error feedback → on-disk outbox → QoS 1),
/// <see cref="ReleaseInstaller"/> (signed releases for the device's cohort, chunks through a resumable assembler),
/// <see cref="CommandExecutor"/> (fleet commands with MQTT 5 replies) and <see cref="TelemetryReporter"/> (retained
/// status, online / offline through the last will, and periodic telemetry).
/// </summary>
public sealed partial class DeviceAgent : IAsyncDisposable
{
    /// <summary>Labelled samples the installed release must have served before telemetry reports its accuracy (capped at the accuracy window).</summary>
    public const int MinAccuracySamples = TelemetryReporter.MinAccuracySamples;

    private readonly DeviceRuntime _runtime;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly FleetMqttClient _client;
    private readonly DeltaPublisher _deltas;
    private readonly ReleaseInstaller _releases;
    private readonly TelemetryReporter _reporter;
    private readonly CommandExecutor _commands;
    private readonly InboundGuard _inbound;
    private readonly ClusterHeadFetcher? _heads;
    private readonly ClusterFollower? _clusters;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private Task? _deltaBuilder;

    public DeviceAgent(DeviceRuntime runtime, ECDsa fleetKey, ILogger<DeviceAgent>? logger = null, TimeProvider? time = null)
        : this(runtime, fleetKey, logger, time, wrapDeltaTransport: null)
    {
    }

    /// <summary>The agent with a seam in front of the wire: <paramref name="wrapDeltaTransport"/> wraps the MQTT delta transport (the demo's attacker rewrites its deltas there); null sends them as built.</summary>
    internal DeviceAgent(DeviceRuntime runtime, ECDsa fleetKey, ILogger? logger, TimeProvider? time, Func<IDeltaTransport, IDeltaTransport>? wrapDeltaTransport)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(fleetKey);
        _runtime = runtime;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        var o = runtime.Options;
        Settings = new RuntimeSettings(o.RuntimeOverridesPath, o.Cohort, o.Delta.TopKFraction, o.TelemetryInterval);
        if (Settings.LoadError is { } loadError) LogOverridesIgnored(_logger, loadError);

        _client = new FleetMqttClient(AgentClientOptions.Build(o, () => FleetJson.Serialize(BuildStatus())));
        var connection = new FleetConnection(_client);
        IDeltaTransport transport = new MqttDeltaTransport(connection, o.Fleet, o.DeviceId);
        _deltas = new DeltaPublisher(runtime, Settings, wrapDeltaTransport?.Invoke(transport) ?? transport, _logger, _time);
        _releases = new ReleaseInstaller(runtime, fleetKey, Settings, connection, _logger);
        _reporter = new TelemetryReporter(runtime, Settings, connection, _deltas, _logger, _time);
        _commands = new CommandExecutor(runtime, Settings, connection, _releases, _deltas, _reporter, _logger, _time);
        _inbound = new InboundGuard(runtime, _logger, _time);
        if (o.Clustering)
        {
            _heads = new ClusterHeadFetcher(runtime, fleetKey, Settings, connection, _releases.Sequences, _logger);
            _clusters = new ClusterFollower(runtime, fleetKey, connection, _releases, _heads, _logger);
            var scorer = new ClusterScorer(runtime.Engine, () => _heads.Heads, _logger);
            runtime.RunScorer = scorer.Score;
        }

        _client.MessageReceived += OnMessageAsync;
        _client.HandlerFailed += OnHandlerFailed;
        _client.PayloadRefused += _inbound.OnRefused;
        _client.ConnectFailed += OnConnectFailed;
        _client.Connected += OnConnected;
        _runtime.Promoted += _deltas.Offer;
        _runtime.Rebased += OnRebased;
        _runtime.StateChanged += OnStateChanged;
        _runtime.Metrics.Attach(this);
    }

    /// <summary>Settings the fleet can change with set-config.</summary>
    public RuntimeSettings Settings { get; }

    /// <summary>Deltas waiting for the broker's acknowledgement.</summary>
    public DeltaOutbox Outbox => _deltas.Outbox;

    /// <summary>Deltas not acknowledged by the broker yet: promotions still being written to the outbox, and the outbox.</summary>
    public int PendingDeltas => _deltas.Pending;

    public FleetMqttClient Client => _client;

    public bool IsConnected => _client.IsConnected;

    /// <summary>The last release refused, with the reason (also logged and sent in status reports).</summary>
    public string? LastReleaseRejection => _releases.LastRejection;

    /// <summary>The release sequence of the last release accepted (survives restarts); 0 before any.</summary>
    public long AcceptedReleaseSequence => _releases.AcceptedSequence;

    /// <summary>The cluster this device is assigned to under concept-aware aggregation (<c>learning:clustering</c>); null when off.</summary>
    public int? Cluster => _clusters?.Cluster;

    /// <summary>The sequence of the last cluster directory applied (survives restarts); 0 before any or when clustering is off.</summary>
    public long AppliedClusterDirectorySequence => _clusters?.AppliedSequence ?? 0;

    /// <summary>Why the last cluster directory was ignored; null once one was applied or when clustering is off.</summary>
    public string? LastClusterDirectoryRejection => _clusters?.LastRejection;

    /// <summary>The cluster heads held for scoring, by cluster id (empty when clustering is off).</summary>
    internal IReadOnlyDictionary<int, ModelBundle> ClusterHeads => _heads?.Heads ?? new Dictionary<int, ModelBundle>();

    /// <summary>Raised after a release was refused; the argument says why.</summary>
    public event Action<string>? ReleaseRejected
    {
        add => _releases.Rejected += value;
        remove => _releases.Rejected -= value;
    }

    /// <summary>Raised after the broker acknowledged a delta: its id, size and norm as sent.</summary>
    public event Action<DeltaReceipt>? DeltaAcknowledged
    {
        add => _deltas.Acknowledged += value;
        remove => _deltas.Acknowledged -= value;
    }

    /// <summary>Subscribes and starts connecting (does not wait for the broker: the device serves offline too).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        var o = _runtime.Options;
        var subscribe = Task.WhenAll(
            _client.SubscribeAsync(FleetTopics.Command(o.Fleet, o.DeviceId), cancellationToken: cancellationToken),
            _client.SubscribeAsync(FleetTopics.Samples(o.Fleet, o.DeviceId), cancellationToken: cancellationToken),
            _releases.SubscribeAsync(cancellationToken),
            _clusters?.SubscribeAsync(cancellationToken) ?? Task.CompletedTask);
        var stop = _stop.Token;
        _deltaBuilder = Task.Run(_deltas.BuildDeltasAsync, CancellationToken.None);
        _loops.Add(ObserveAsync(_client.StartAsync(stop), "connect"));
        _loops.Add(Task.Run(() => _deltas.PumpAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _reporter.RunAsync(stop), CancellationToken.None));
        return subscribe;
    }

    /// <summary>Waits until the broker connection is up (tests, `cl device run --wait`).</summary>
    public Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default) => _client.WaitUntilConnectedAsync(cancellationToken);

    /// <summary>
    /// Stops the loops: promotions already queued are written to the outbox first (they are sent after the next
    /// start), the status goes offline (published explicitly, then a clean disconnect).
    /// </summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _runtime.Promoted -= _deltas.Offer;
        _deltas.CompleteIntake();
        if (_deltaBuilder is not null) await _deltaBuilder.ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
                await _reporter.PublishStatusAsync(timeout.Token, DeviceState.Offline).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var loop in _loops)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _client.StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _runtime.Rebased -= OnRebased;
        _runtime.StateChanged -= OnStateChanged;
        _runtime.Metrics.Detach(this);
        await _client.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _deltas.Dispose();
        _reporter.Dispose();
        _releases.Dispose();
        _clusters?.Dispose();
        _heads?.Dispose();
        _commands.Dispose();
    }

    /// <summary>The current status (retained on the status topic).</summary>
    public DeviceStatus BuildStatus(DeviceState state = DeviceState.Online) => _reporter.BuildStatus(state);

    /// <summary>The current telemetry record.</summary>
    public Telemetry BuildTelemetry() => _reporter.BuildTelemetry();

    private Task OnMessageAsync(FleetMessage message)
    {
        var kind = FleetTopics.TryParse(message.Topic)?.Kind;
        // Size first, before any parser sees the payload (the client checked it too, before copying it).
        if (!_inbound.Admit(message, kind)) return Task.CompletedTask;
        return kind switch
        {
            FleetTopicKind.DeviceCommand => _commands.HandleAsync(message, _stop.Token),
            FleetTopicKind.DeviceSamples => OnSample(message),
            FleetTopicKind.ModelRelease when ScoredOnly(message) => _heads!.OnReleaseAsync(message, _stop.Token),
            FleetTopicKind.ModelChunk when ScoredOnly(message) => _heads!.OnChunkAsync(message, _stop.Token),
            FleetTopicKind.ModelRelease => _releases.OnReleaseAsync(message, _stop.Token),
            FleetTopicKind.ModelChunk => _releases.OnChunkAsync(message, _stop.Token),
            FleetTopicKind.ModelClusters when _clusters is not null => _clusters.OnDirectoryAsync(message, _stop.Token),
            _ => Task.CompletedTask,
        };
    }

    // Under clustering, releases and chunks of a model other than the one installed are for scoring (or refused there).
    private bool ScoredOnly(FleetMessage message) =>
        _heads is not null && FleetTopics.TryParse(message.Topic)?.ModelName is { } model && model != _releases.ServingModel;

    private Task OnSample(FleetMessage message)
    {
        _inbound.OnSample(message);
        return Task.CompletedTask;
    }

    private void OnRebased(ModelBundle bundle)
    {
        _ = ObserveAsync(_deltas.RebaseAsync(bundle.Manifest.Version, _stop.Token), "error-feedback rebase");
        _ = _reporter.PublishStatusSafeAsync(_stop.Token);
    }

    private void OnStateChanged() => _ = _reporter.PublishStatusSafeAsync(_stop.Token);

    private void OnConnected(int count)
    {
        LogConnected(_logger, _runtime.Options.Broker.Host, _runtime.Options.Broker.Port, count);
        _deltas.Nudge();
    }

    private void OnConnectFailed(Exception exception, TimeSpan delay) =>
        LogConnectFailed(_logger, _runtime.Options.Broker.Host, _runtime.Options.Broker.Port, exception.Message, delay.TotalSeconds);

    private void OnHandlerFailed(FleetMessage message, Exception exception) => LogHandlerFailed(_logger, exception, message.Topic);

    private async Task ObserveAsync(Task task, string what)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            LogLoopFailed(_logger, ex, what);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Runtime overrides: {Error}")]
    private static partial void LogOverridesIgnored(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a message on {Topic} failed.")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connecting to broker {Host}:{Port} failed ({Reason}); retrying in {Delay:0.0} s.")]
    private static partial void LogConnectFailed(ILogger logger, string host, int port, string reason, double delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to broker {Host}:{Port} (connect #{Count}).")]
    private static partial void LogConnected(ILogger logger, string host, int port, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "MQTT {What} failed.")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string what);
}
