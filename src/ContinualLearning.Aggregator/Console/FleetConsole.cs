using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Messages;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// The console as a part of <see cref="AggregatorService"/>: it is told of every status, telemetry report, version and
/// decision the service sees, keeps the telemetry it shows (<see cref="DeviceTelemetry"/>), serves the endpoint, and
/// runs a once-a-second tick that sends the coalesced events, samples a running canary every
/// <c>console:rolloutSampleInterval</c>, notices new rejections and prunes its registry tables.
/// </summary>
internal sealed partial class FleetConsole : IAsyncDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan StopPatience = TimeSpan.FromSeconds(5);

    private readonly AggregatorOptions _options;
    private readonly DeviceDirectory _devices;
    private readonly AggregatorMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private ConsoleEndpoint? _endpoint;
    private RolloutSampler? _sampler;
    private ModelRegistry? _registry;
    private Task? _loop;

    public FleetConsole(AggregatorOptions options, DeviceDirectory devices, AggregatorMetrics metrics, TimeProvider time, ILogger logger)
    {
        _options = options;
        _devices = devices;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Events = new ConsoleEvents(options.Console.EventQueueLength, options.Console.Heartbeat, time);
        Auth = new OperatorAuth(options.Console);
    }

    public DeviceTelemetry Telemetry { get; } = new();

    public ConsoleEvents Events { get; }

    public OperatorAuth Auth { get; }

    /// <summary>Where the console is served (e.g. http://127.0.0.1:8480/); null before start.</summary>
    public Uri? Address => _endpoint?.Address;

    public async Task StartAsync(ModelRegistry registry, IOperatorActions actions, CancellationToken cancellationToken)
    {
        _registry = registry;
        var health = new AggregatorHealth(_metrics, AggregatorHealth.WindowFor(_options.Tick));
        var clusters = new ConsoleClusters(registry, _options, _devices);
        var sources = new ConsoleSources(_options, registry, new FleetView(_devices, Telemetry, clusters.Assignments), Telemetry, new RegistryView(registry, _options.ModelName),
            clusters, health, _metrics, Events, actions, _time);
        _sampler = new RolloutSampler(registry, _options.ModelName, _time);
        _endpoint = new ConsoleEndpoint(sources, Auth, _logger);
        await _endpoint.StartAsync(cancellationToken).ConfigureAwait(false);
        health.Started();
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    public void StatusChanged()
    {
        Events.Mark(ConsoleEventKind.Device);
        Events.Mark(ConsoleEventKind.Overview);
    }

    public void TelemetryReceived(string deviceId, Telemetry telemetry, DateTimeOffset at)
    {
        Telemetry.Add(deviceId, telemetry, at);
        Events.Mark(ConsoleEventKind.Device);
        Events.Mark(ConsoleEventKind.Overview);
    }

    public void VersionCreated(ModelVersionRecord record) =>
        Events.Publish(ConsoleEventKind.Version, new { version = record.Version, status = record.Status });

    public void Decided(string version, DecisionKind decision)
    {
        if (decision is DecisionKind.Promoted or DecisionKind.RolledBack) Try(() => _sampler?.Verdict(version));
        Events.Publish(ConsoleEventKind.Decision, new { version, decision = decision.ToText() });
        Events.Publish(ConsoleEventKind.Version, new { version });
        if (decision is DecisionKind.CanaryStarted or DecisionKind.Promoted or DecisionKind.RolledBack)
            Events.Publish(ConsoleEventKind.Rollout, new { version, decision = decision.ToText() });
        Events.Mark(ConsoleEventKind.Overview);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        Events.Close();
        if (_loop is not null) await _loop.WaitAsync(StopPatience, cancellationToken).ConfigureAwait(false);
        if (_endpoint is null) return;
        // Requests still running after this are aborted rather than waited for.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        patience.CancelAfter(StopPatience);
        await _endpoint.StopAsync(patience.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            Events.Close();
        }
        if (_endpoint is not null) await _endpoint.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var sampled = _time.GetTimestamp();
        var pruned = long.MinValue;
        var rejections = -1;
        using var timer = new PeriodicTimer(Tick, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                if (_time.GetElapsedTime(sampled) >= _options.Console.RolloutSampleInterval)
                {
                    sampled = _time.GetTimestamp();
                    if (Try(() => _sampler!.Sample()) is not null) Events.Publish(ConsoleEventKind.Rollout, new { sampled = true });
                }
                var count = Try(() => _registry!.Rejections.Count());
                if (count != rejections && rejections >= 0) Events.Publish(ConsoleEventKind.Rejection, new { total = count });
                rejections = count;
                if (pruned == long.MinValue || _time.GetElapsedTime(pruned) >= PruneInterval)
                {
                    pruned = _time.GetTimestamp();
                    Try(Prune);
                }
                Events.FlushMarked();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private int Prune()
    {
        var before = _time.GetUtcNow() - _options.Console.HistoryMaxAge;
        return _registry!.Audit.Prune(_options.Console.AuditMaxRows, before) + _registry.RolloutPoints.Prune(before);
    }

    /// <summary>Runs a registry read or write of the tick; a failure is logged and the tick goes on (the console never stops the service).</summary>
    private T? Try<T>(Func<T> body)
    {
        try
        {
            return body();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogTickFailed(_logger, ex);
            return default;
        }
    }

    private void Try(Action body) => Try(() =>
    {
        body();
        return 0;
    });

    [LoggerMessage(EventId = 721, Level = LogLevel.Warning, Message = "Console: a registry read or write failed; the next tick retries")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);
}
