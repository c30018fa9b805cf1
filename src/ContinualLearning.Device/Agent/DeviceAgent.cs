using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ContinualLearning.Deltas;
using ContinualLearning.Device.Learning;
using ContinualLearning.Device.Outbox;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The device's MQTT side, usable without the host: turns promotions into compressed deltas (error feedback,
/// on-disk outbox, QoS 1, removed only after PUBACK), installs signed releases for its cohort (chunks through a
/// resumable <see cref="BundleAssembler"/>), executes fleet commands with MQTT 5 replies, keeps the retained status
/// (online / offline via the last will) and publishes telemetry periodically.
/// </summary>
public sealed class DeviceAgent : IAsyncDisposable
{
    private const int MaxRememberedCommands = 512;
    private readonly DeviceRuntime _runtime;
    private readonly ECDsa _fleetKey;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly FleetMqttClient _client;
    private readonly DeltaOutbox _outbox;
    private readonly ErrorFeedbackState _feedback;
    private readonly Lock _feedbackLock = new();
    private readonly SemaphoreSlim _outboxSignal = new(0);
    private readonly SemaphoreSlim _telemetrySignal = new(0);
    private readonly SemaphoreSlim _releaseLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, byte> _executed = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _executedOrder = new();
    private readonly List<Task> _loops = [];
    private BundleAssembler? _assembler;
    private string? _chunkFilter;
    private long _droppedSeen;
    private TimeSpan _lastCpu;
    private long _lastCpuAt;

    public DeviceAgent(DeviceRuntime runtime, ECDsa fleetKey, ILogger<DeviceAgent>? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(fleetKey);
        _runtime = runtime;
        _fleetKey = fleetKey;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        var o = runtime.Options;
        Settings = new RuntimeSettings(o.RuntimeOverridesPath, o.Cohort, o.Delta.TopKFraction, o.TelemetryInterval);
        if (Settings.LoadError is { } loadError) _logger.LogWarning("Runtime overrides: {Error}", loadError);
        _outbox = new DeltaOutbox(o.OutboxDirectory, o.Delta.OutboxMaxFiles, o.Delta.OutboxMaxBytes, _logger);
        _outbox.ItemAdded += () => _outboxSignal.Release();
        try
        {
            _feedback = ErrorFeedbackState.Load(o.ErrorFeedbackPath);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or FormatException)
        {
            _logger.LogWarning(ex, "Error-feedback state {Path} is unreadable; starting with an empty residual.", o.ErrorFeedbackPath);
            File.Delete(o.ErrorFeedbackPath);
            _feedback = ErrorFeedbackState.Load(o.ErrorFeedbackPath);
        }
        _client = new FleetMqttClient(ClientOptions(o));
        _client.MessageReceived += OnMessageAsync;
        _client.HandlerFailed += (m, ex) => _logger.LogError(ex, "Handling a message on {Topic} failed.", m.Topic);
        _client.ConnectFailed += (ex, delay) => _logger.LogWarning("Connecting to broker {Host}:{Port} failed ({Reason}); retrying in {Delay:0.0} s.", o.Broker.Host, o.Broker.Port, ex.Message, delay.TotalSeconds);
        _client.Connected += n =>
        {
            _logger.LogInformation("Connected to broker {Host}:{Port} (connect #{Count}).", o.Broker.Host, o.Broker.Port, n);
            _outboxSignal.Release();
        };
        _runtime.Promoted += OnPromoted;
        _runtime.Rebased += _ => OnRebased();
        _runtime.StateChanged += () => _ = PublishStatusSafeAsync();
    }

    /// <summary>Settings the fleet can change with set-config.</summary>
    public RuntimeSettings Settings { get; }

    public DeltaOutbox Outbox => _outbox;

    public FleetMqttClient Client => _client;

    public bool IsConnected => _client.IsConnected;

    /// <summary>The last release refused, with the reason (also logged and sent in status reports).</summary>
    public string? LastReleaseRejection { get; private set; }

    /// <summary>Raised after a release was refused; the argument says why.</summary>
    public event Action<string>? ReleaseRejected;

    /// <summary>Raised after a delta was acknowledged by the broker (argument: its delta id).</summary>
    public event Action<Guid>? DeltaAcknowledged;

    private string Fleet => _runtime.Options.Fleet;

    private string DeviceId => _runtime.Options.DeviceId;

    /// <summary>Subscribes and starts connecting (does not wait for the broker: the device serves offline too).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        var o = _runtime.Options;
        var subscribe = Task.WhenAll(
            _client.SubscribeAsync(FleetTopics.Command(Fleet, DeviceId), cancellationToken: cancellationToken),
            _client.SubscribeAsync(FleetTopics.Samples(Fleet, DeviceId), cancellationToken: cancellationToken),
            _client.SubscribeAsync(FleetTopics.Release(Fleet, o.ModelName), cancellationToken: cancellationToken));
        var stop = _stop.Token;
        _loops.Add(ObserveAsync(_client.StartAsync(stop), "connect"));
        _loops.Add(Task.Run(() => PumpOutboxAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => TelemetryLoopAsync(stop), CancellationToken.None));
        return subscribe;
    }

    /// <summary>Waits until the broker connection is up (tests, `cl device run --wait`).</summary>
    public Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default) => _client.WaitUntilConnectedAsync(cancellationToken);

    /// <summary>Stops the loops; the status goes offline (published explicitly, then a clean disconnect).</summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested) return;
        if (_client.IsConnected)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _client.PublishAsync(FleetTopics.Status(Fleet, DeviceId), FleetJson.Serialize(BuildStatus(DeviceState.Offline)), retain: true, cancellationToken: timeout.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _stop.CancelAsync();
        foreach (var loop in _loops)
        {
            try
            {
                await loop;
            }
            catch (OperationCanceledException)
            {
            }
        }
        await _client.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _client.DisposeAsync();
        _stop.Dispose();
        _outboxSignal.Dispose();
        _telemetrySignal.Dispose();
        _releaseLock.Dispose();
    }

    /// <summary>The current status (retained on the status topic).</summary>
    public DeviceStatus BuildStatus(DeviceState state = DeviceState.Online)
    {
        var s = _runtime.Learner?.Status;
        return new DeviceStatus
        {
            DeviceId = DeviceId,
            State = state,
            Timestamp = _time.GetUtcNow(),
            ModelName = s?.ModelName ?? _runtime.Options.ModelName,
            ModelVersion = s?.ModelVersion,
            BaseVersion = s?.BaseVersion,
            Engine = _runtime.Engine.Name,
            Cohort = Settings.Cohort,
            Paused = s?.Paused ?? false,
            SamplesSeen = _runtime.Metrics.Predictions,
            SamplesStored = s?.StoredSamples ?? 0,
            TrainingRuns = _runtime.Metrics.TrainingRuns,
            DeltasSent = _runtime.Metrics.DeltasSent,
        };
    }

    /// <summary>Labelled samples the installed release must have served before telemetry reports its accuracy (capped at the accuracy window).</summary>
    public const int MinAccuracySamples = 25;

    /// <summary>The current telemetry record.</summary>
    public Telemetry BuildTelemetry()
    {
        var s = _runtime.Learner?.Status;
        using var process = Process.GetCurrentProcess();
        var now = _time.GetTimestamp();
        var cpu = process.TotalProcessorTime;
        double cpuPercent = 0;
        if (_lastCpuAt != 0)
        {
            var wall = _time.GetElapsedTime(_lastCpuAt, now).TotalSeconds;
            if (wall > 0) cpuPercent = 100 * (cpu - _lastCpu).TotalSeconds / wall / Environment.ProcessorCount;
        }
        _lastCpu = cpu;
        _lastCpuAt = now;
        return new Telemetry
        {
            DeviceId = DeviceId,
            Timestamp = _time.GetUtcNow(),
            ModelVersion = s?.ModelVersion,
            BaseVersion = s?.BaseVersion,
            // Accuracy of the installed release (BaseVersion) since it was installed, local fine-tunes included: the
            // aggregator's canary compares releases, and a window that restarted at every local promotion would
            // credit the control cohort with its freshly fine-tuned champions while the canaries serve the raw
            // candidate. A window over a handful of samples is ±10 points of noise, so none is sent until it holds enough.
            Accuracy = s?.ReleaseWindowedSamples >= Math.Min(MinAccuracySamples, _runtime.Options.AccuracyWindow) ? s.ReleaseWindowedAccuracy : null,
            AccuracyWindow = (int)(s?.ReleaseWindowedSamples ?? 0),
            Drift = s?.DriftPending == true ? DriftState.Drift : DriftState.Stable,
            DriftDetector = s?.DriftDetector,
            CpuPercent = Math.Round(cpuPercent, 2),
            MemoryBytes = process.WorkingSet64,
            Extra = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["queueDepth"] = _outbox.Count,
                ["deltasDropped"] = _runtime.Metrics.DeltasDropped,
                ["promotions"] = _runtime.Metrics.Promotions,
                ["driftAlarms"] = _runtime.Metrics.DriftAlarms,
                ["residualNorm"] = _feedback.ResidualNorm,
            },
        };
    }

    // ---- deltas -------------------------------------------------------------------------------------------

    /// <summary>Turns a promotion into a delta in the outbox. Runs on the training thread: the disk write is the only I/O.</summary>
    private void OnPromoted(PromotedEventArgs e)
    {
        try
        {
            var status = _runtime.Learner?.Status;
            var options = _runtime.Options.Delta.Compression with { Fraction = Settings.TopKFraction };
            byte[] payload;
            Guid id;
            lock (_feedbackLock)
            {
                var tensors = _feedback.Next(e.BaseVersion, e.BaseWeights, e.ChampionWeights, options);
                id = Guid.NewGuid();
                var header = new DeltaHeader(
                    status?.ModelName ?? _runtime.Options.ModelName,
                    e.BaseVersion,
                    DeviceId,
                    id,
                    e.SamplesUsed,
                    new Dictionary<string, double>(StringComparer.Ordinal)
                    {
                        ["championMetric"] = e.Decision.ChampionMetric,
                        ["challengerMetric"] = e.Decision.ChallengerMetric,
                        ["holdoutSamples"] = e.Decision.HoldoutSamples,
                    },
                    _time.GetUtcNow());
                payload = DeltaCodec.Encode(new WeightDelta(header, tensors));
                // Queue first, then save the residual: after a crash in between, the residual is re-sent
                // next time (a little extra) rather than lost.
                _outbox.Enqueue(payload);
                _feedback.Save();
            }
            var dropped = _outbox.DroppedCount - Interlocked.Exchange(ref _droppedSeen, _outbox.DroppedCount);
            if (dropped > 0) _runtime.Metrics.CountDeltasDropped(dropped);
            _logger.LogInformation("Promotion {Version} (base {Base}, {Samples} samples): queued delta {DeltaId}, {Bytes} bytes, outbox depth {Depth}.",
                e.NewVersion, e.BaseVersion, e.SamplesUsed, id, payload.Length, _outbox.Count);
        }
        catch (Exception ex)
        {
            _runtime.LastError = $"could not queue the delta: {ex.Message}";
            _logger.LogError(ex, "Could not turn promotion {Version} into a delta.", e.NewVersion);
        }
    }

    private async Task PumpOutboxAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var item = _outbox.Peek();
            if (item is null)
            {
                await _outboxSignal.WaitAsync(stop);
                continue;
            }
            try
            {
                // QoS 1: PublishAsync returns after PUBACK and re-sends across reconnects. The payload (and so the
                // delta id) is the file's bytes, identical on every attempt: the aggregator drops duplicates.
                await _client.PublishAsync(FleetTopics.DeltaTopic(Fleet, DeviceId), item.Payload, FleetQos.AtLeastOnce, cancellationToken: stop);
                _outbox.Remove(item.Sequence);
                _runtime.Metrics.CountDeltaSent();
                var id = DeltaId(item.Payload);
                _logger.LogInformation("Delta {DeltaId} acknowledged by the broker; outbox depth {Depth}.", id, _outbox.Count);
                DeltaAcknowledged?.Invoke(id);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning("Publishing delta #{Sequence} failed ({Reason}); will retry.", item.Sequence, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stop);
            }
        }
    }

    private static Guid DeltaId(byte[] payload)
    {
        try
        {
            return DeltaCodec.Decode(payload).Header.DeltaId;
        }
        catch (DeltaFormatException)
        {
            return Guid.Empty;
        }
    }

    private void OnRebased()
    {
        lock (_feedbackLock) _feedback.Rebase(_runtime.Learner?.Status.BaseVersion);
        _ = PublishStatusSafeAsync();
    }

    // ---- incoming ------------------------------------------------------------------------------------------

    private async Task OnMessageAsync(FleetMessage message)
    {
        var topic = FleetTopics.TryParse(message.Topic);
        switch (topic?.Kind)
        {
            case FleetTopicKind.DeviceCommand:
                await HandleCommandAsync(message);
                break;
            case FleetTopicKind.DeviceSamples:
                HandleSample(message);
                break;
            case FleetTopicKind.ModelRelease:
                await HandleReleaseAsync(message);
                break;
            case FleetTopicKind.ModelChunk:
                await HandleChunkAsync(message);
                break;
        }
    }

    private void HandleSample(FleetMessage message)
    {
        try
        {
            var request = SampleRequest.Parse(message.Payload);
            SampleRequest.Apply(request, _runtime);
        }
        catch (SampleRequestException ex)
        {
            _runtime.Metrics.CountRejectedRequest();
            _logger.LogWarning("Sample on {Topic} refused: {Reason} (field {Field}, value {Value}).", message.Topic, ex.Message, ex.Field, ex.Value);
        }
    }

    // ---- releases ------------------------------------------------------------------------------------------

    private async Task HandleReleaseAsync(FleetMessage message)
    {
        if (message.Payload.Length == 0) return; // a cleared retained release
        Release release;
        try
        {
            release = FleetJson.ReadRelease(message.Payload);
        }
        catch (FleetMessageException ex)
        {
            Refuse($"release on {message.Topic} is unreadable: {ex.Message}");
            return;
        }
        if (release.ModelName != _runtime.Options.ModelName) return;
        if (!IsForMyCohort(release.Cohort))
        {
            _logger.LogInformation("Release {Model} v{Version} is for cohort {ReleaseCohort}; this device is in {Cohort}: not installing.", release.ModelName, release.Version, release.Cohort, Settings.Cohort);
            return;
        }
        var current = _runtime.Learner?.Status;
        if (current is not null && (current.BaseVersion == release.Version || IsNotNewer(release.Version, current.BaseVersion)))
        {
            _logger.LogDebug("Release {Version} is not newer than the installed base {Base}; ignoring.", release.Version, current.BaseVersion);
            return;
        }
        await _releaseLock.WaitAsync(_stop.Token);
        try
        {
            if (_assembler?.Release.Version == release.Version && _assembler.Release.BundleSha256 == release.BundleSha256) return;
            BundleAssembler assembler;
            try
            {
                assembler = new BundleAssembler(release, _fleetKey, Path.Combine(_runtime.Options.ReleasesDirectory, "incoming", release.Version));
            }
            catch (BundleVerificationException ex)
            {
                Refuse(ex.Message);
                return;
            }
            if (_chunkFilter is not null) await _client.UnsubscribeAsync(_chunkFilter);
            _assembler = assembler;
            _chunkFilter = FleetTopics.AllChunks(Fleet, release.ModelName, release.Version);
            _logger.LogInformation("Release {Model} v{Version} (cohort {Cohort}) verified; fetching {Count} chunks ({Resumed} already on disk).",
                release.ModelName, release.Version, release.Cohort, release.ChunkCount, assembler.ResumedCount);
            if (assembler.IsComplete) _ = Task.Run(() => InstallAsync(assembler));
            else await _client.SubscribeAsync(_chunkFilter, cancellationToken: _stop.Token);
        }
        finally
        {
            _releaseLock.Release();
        }
    }

    private async Task HandleChunkAsync(FleetMessage message)
    {
        var assembler = _assembler;
        if (assembler is null || assembler.IsComplete) return;
        BundleChunk chunk;
        try
        {
            chunk = BundleChunk.Decode(message.Payload);
        }
        catch (FleetMessageException ex)
        {
            _logger.LogWarning("Chunk on {Topic} unreadable: {Reason}", message.Topic, ex.Message);
            return;
        }
        if (chunk.Version != assembler.Release.Version) return;
        var result = assembler.Accept(chunk);
        if (result.Status == ChunkStatus.Rejected)
        {
            Refuse($"release {assembler.Release.ModelName} v{assembler.Release.Version}: {result.Reason}");
            return;
        }
        if (result.Status == ChunkStatus.Accepted && assembler.IsComplete)
            await InstallAsync(assembler);
    }

    private async Task InstallAsync(BundleAssembler assembler)
    {
        var release = assembler.Release;
        var target = Path.Combine(_runtime.Options.ReleasesDirectory, release.Version);
        try
        {
            var container = assembler.TryAssemble();
            if (container is null) return; // a chunk on disk went bad; it is re-requested by staying subscribed
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            BundlePackager.Extract(container, target);
            await _runtime.InstallAsync(target, _stop.Token);
            assembler.Clear();
            if (_chunkFilter is not null) await _client.UnsubscribeAsync(_chunkFilter);
            _chunkFilter = null;
            LastReleaseRejection = null;
        }
        catch (Exception ex) when (ex is BundleVerificationException or InvalidDataException or IOException or ContinualLearning.Bundle.BundleException or ArgumentException)
        {
            assembler.Clear();
            _assembler = null;
            Refuse($"release {release.ModelName} v{release.Version} could not be installed: {ex.Message}");
        }
    }

    private bool IsForMyCohort(string cohort) =>
        string.Equals(cohort, "all", StringComparison.OrdinalIgnoreCase) || string.Equals(cohort, Settings.Cohort, StringComparison.Ordinal);

    private static bool IsNotNewer(string candidate, string installed) =>
        ContinualLearning.Bundle.SemanticVersion.TryParse(candidate, out var c) && ContinualLearning.Bundle.SemanticVersion.TryParse(installed, out var i) && c.CompareTo(i) <= 0;

    private void Refuse(string reason)
    {
        LastReleaseRejection = reason;
        _runtime.Metrics.CountReleaseRejected();
        _runtime.LastError = reason;
        _logger.LogWarning("Release refused: {Reason}", reason);
        ReleaseRejected?.Invoke(reason);
    }

    // ---- commands ------------------------------------------------------------------------------------------

    private async Task HandleCommandAsync(FleetMessage message)
    {
        Command command;
        try
        {
            command = FleetJson.ReadCommand(message.Payload);
        }
        catch (FleetMessageException ex)
        {
            await ReplyAsync(message, new CommandReply { CommandId = "?", DeviceId = DeviceId, Ok = false, Message = ex.Message, Timestamp = _time.GetUtcNow() });
            return;
        }
        if (!_executed.TryAdd(command.CommandId, 0))
        {
            _logger.LogDebug("Command {CommandId} already executed (QoS 1 duplicate); ignoring.", command.CommandId);
            return;
        }
        _executedOrder.Enqueue(command.CommandId);
        while (_executedOrder.Count > MaxRememberedCommands && _executedOrder.TryDequeue(out var old)) _executed.TryRemove(old, out _);

        CommandReply reply;
        if (command.ExpiresAt is { } expires && expires < _time.GetUtcNow())
        {
            reply = Reply(command, false, $"expired at {expires:O}; not executed");
        }
        else
        {
            try
            {
                reply = await ExecuteAsync(command);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                reply = Reply(command, false, $"{command.Kind} failed: {ex.Message}");
            }
        }
        _logger.LogInformation("Command {Kind} ({CommandId}): {Outcome}", command.Kind, command.CommandId, reply.Message);
        await ReplyAsync(message, reply);
        await PublishStatusSafeAsync();
    }

    private async Task<CommandReply> ExecuteAsync(Command command)
    {
        var args = command.Args ?? new Dictionary<string, string>();
        switch (command.Kind)
        {
            case CommandKind.TrainNow:
            {
                if (!_runtime.HasModel) return Reply(command, false, new NoModelException().Message);
                var result = await _runtime.TrainNowAsync("manual: fleet command", _stop.Token);
                if (result is null) return Reply(command, false, "no run: too few fresh labelled samples, or learning is paused");
                var d = result.Decision;
                return Reply(command, true, result.Promoted ? $"promoted {d.NewVersion}" : "challenger did not beat the champion; kept it",
                    new Dictionary<string, string>
                    {
                        ["promoted"] = result.Promoted ? "true" : "false",
                        ["championMetric"] = d.ChampionMetric.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                        ["challengerMetric"] = d.ChallengerMetric.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                        ["version"] = d.NewVersion ?? d.ChampionVersion,
                    });
            }
            case CommandKind.Rollback:
            {
                var learner = _runtime.Learner;
                if (learner is null) return Reply(command, false, new NoModelException().Message);
                var previous = learner.Status.PreviousVersion;
                if (args.TryGetValue("version", out var wanted) && wanted != previous)
                    return Reply(command, false, $"can only roll back to the previous champion {previous ?? "(none)"}, not {wanted}");
                return learner.Rollback()
                    ? Reply(command, true, $"rolled back to {learner.ModelVersion}")
                    : Reply(command, false, "there is no previous champion to roll back to");
            }
            case CommandKind.Pause:
                (_runtime.Learner ?? throw new NoModelException()).Pause();
                return Reply(command, true, "learning paused; still serving");
            case CommandKind.Resume:
                (_runtime.Learner ?? throw new NoModelException()).Resume();
                return Reply(command, true, "learning resumed");
            case CommandKind.WipeData:
                (_runtime.Learner ?? throw new NoModelException()).WipeData();
                // The residual is made from those samples' updates: forget it too.
                lock (_feedbackLock) _feedback.Reset(_feedback.BaseVersion);
                return Reply(command, true, "stored samples, replay buffer and unsent residual deleted");
            case CommandKind.SetConfig:
            {
                var before = Settings.Cohort;
                var now = Settings.Apply(args);
                if (before != Settings.Cohort)
                {
                    // Re-read the retained release: it may be for the new cohort.
                    await _client.UnsubscribeAsync(FleetTopics.Release(Fleet, _runtime.Options.ModelName));
                    await _client.SubscribeAsync(FleetTopics.Release(Fleet, _runtime.Options.ModelName));
                }
                _telemetrySignal.Release();
                return Reply(command, true, "config updated: " + string.Join(", ", args.Select(kv => $"{kv.Key}={kv.Value}")), now);
            }
            case CommandKind.Report:
            {
                await PublishStatusAsync();
                await _client.PublishAsync(FleetTopics.Telemetry(Fleet, DeviceId), FleetJson.Serialize(BuildTelemetry()), cancellationToken: _stop.Token);
                var s = BuildStatus();
                var data = new Dictionary<string, string>
                {
                    ["modelVersion"] = s.ModelVersion ?? "",
                    ["engine"] = s.Engine ?? "",
                    ["cohort"] = s.Cohort ?? "",
                    ["queueDepth"] = _outbox.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["paused"] = s.Paused ? "true" : "false",
                };
                if (LastReleaseRejection is { } r) data["lastReleaseRejection"] = r;
                if (_runtime.LastError is { } e) data["lastError"] = e;
                return Reply(command, true, "status and telemetry published", data);
            }
            default:
                return Reply(command, false, $"unknown command kind {command.Kind}");
        }
    }

    private CommandReply Reply(Command command, bool ok, string message, IReadOnlyDictionary<string, string>? data = null) =>
        new() { CommandId = command.CommandId, DeviceId = DeviceId, Ok = ok, Message = message, Data = data, Timestamp = _time.GetUtcNow() };

    private async Task ReplyAsync(FleetMessage request, CommandReply reply)
    {
        if (string.IsNullOrEmpty(request.ResponseTopic)) return; // fire-and-forget command
        try
        {
            await _client.ReplyAsync(request, FleetJson.Serialize(reply), _stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // ---- status and telemetry ------------------------------------------------------------------------------

    private Task PublishStatusAsync() =>
        _client.PublishAsync(FleetTopics.Status(Fleet, DeviceId), FleetJson.Serialize(BuildStatus()), retain: true, cancellationToken: _stop.Token);

    private async Task PublishStatusSafeAsync()
    {
        if (!_client.IsConnected || _stop.IsCancellationRequested) return; // the birth message carries it after a reconnect
        try
        {
            await PublishStatusAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            _logger.LogDebug("Status publish skipped: {Reason}", ex.Message);
        }
    }

    private async Task TelemetryLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await _telemetrySignal.WaitAsync(Settings.TelemetryInterval, _time, stop);
            if (stop.IsCancellationRequested || !_client.IsConnected) continue;
            try
            {
                await _client.PublishAsync(FleetTopics.Telemetry(Fleet, DeviceId), FleetJson.Serialize(BuildTelemetry()), FleetQos.AtMostOnce, cancellationToken: stop);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _logger.LogDebug("Telemetry publish failed: {Reason}", ex.Message);
            }
        }
    }

    private async Task ObserveAsync(Task task, string what)
    {
        try
        {
            await task;
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "MQTT {What} failed.", what);
        }
    }

    private FleetMqttClientOptions ClientOptions(Configuration.DeviceOptions o)
    {
        FleetTlsOptions? tls = null;
        if (o.Broker.Tls)
        {
            X509Certificate2Collection? roots = null;
            if (o.Broker.TlsCaFile is { } ca)
            {
                roots = [];
                roots.ImportFromPemFile(ca);
            }
            tls = new FleetTlsOptions { TrustedCertificateAuthorities = roots, AllowUntrustedCertificates = o.Broker.TlsAllowUntrusted };
        }
        return new FleetMqttClientOptions
        {
            ClientId = o.DeviceId,
            Host = o.Broker.Host,
            Port = o.Broker.Port,
            Username = o.Broker.Username,
            Password = o.Broker.Password,
            Tls = tls,
            Will = new FleetWill(FleetTopics.Status(o.Fleet, o.DeviceId), FleetJson.Serialize(DeviceStatus.Offline(o.DeviceId) with { Cohort = o.Cohort })),
            Birth = new FleetBirth(FleetTopics.Status(o.Fleet, o.DeviceId), () => FleetJson.Serialize(BuildStatus())),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(200),
            ReconnectMaxDelay = TimeSpan.FromSeconds(30),
            // Backpressure for sample bursts: without it the broker pushes a whole backlog (12,000 samples: ~35 MB of
            // MQTTnet packets) at once and it waits in memory for the sample handler. 32 keeps the pipe full.
            ReceiveMaximum = 32,
        };
    }
}
