using System.Threading.Channels;
using ContinualLearning.Aggregator.Inbox;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Fleet;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Text;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>What the aggregator does with each kind of device message.</summary>
/// <param name="Deltas">Stores a batch of delta payloads (by the device id in their topics) in one transaction. Throws when they could not be stored (their messages are then not acknowledged).</param>
/// <param name="Telemetry">A telemetry report whose device id matches its topic, with when it arrived.</param>
/// <param name="Status">A retained status payload (empty when cleared), with when it arrived.</param>
internal sealed record FleetHandlers(
    Action<IReadOnlyList<ReceivedDelta>> Deltas,
    Action<string, Telemetry, DateTimeOffset> Telemetry,
    Action<string, byte[], DateTimeOffset> Status);

/// <summary>
/// The aggregator's MQTT session: one client named after the instance (its persistent session queues deltas while the
/// instance is down), subscribed to the fleet's deltas (through <c>$share/{group}/…</c> when configured), telemetry and
/// status, each routed to its handler. Deltas are stored in batches, one transaction each, and acknowledged after its
/// commit (<see cref="DeltaBatcher"/>; <see cref="InboxOptions.BatchMax"/> = 1 stores each in the MQTT handler).
/// Nothing is acknowledged before it is stored: a message whose handler (or batch) throws (the registry cannot write: disk full,
/// I/O error) stays unacknowledged, the error is logged as it was raised and counted, and the inbox stops consuming —
/// it disconnects, waits (<see cref="InboxOptions.StorageRetryDelay"/>, doubling per failure in a row) and reconnects,
/// when the broker re-sends everything left unacknowledged. Payloads over their topic's cap (deltas: derived from the
/// head, <see cref="FleetLimits.MaxDeltaPayloadBytes"/>) are refused before they are copied or decoded.
/// </summary>
internal sealed partial class FleetInbox : IAsyncDisposable
{
    /// <summary>How much of a sender-chosen topic a log line repeats.</summary>
    private const int LoggedTopicLength = 160;

    private readonly AggregatorOptions _options;
    private readonly FleetHandlers _handlers;
    private readonly AggregatorMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly DeltaBatcher? _batcher;
    private Task _recovery = Task.CompletedTask;
    private int _failuresInARow;

    /// <param name="options">Broker, fleet, instance id and the inbox settings.</param>
    /// <param name="handlers">Where each kind of message goes.</param>
    /// <param name="maxDeltaBytes">Largest delta payload accepted; the MQTT maximum packet size follows it.</param>
    /// <param name="metrics">Counts refused payloads and storage failures.</param>
    /// <param name="time">Clock of the retry delay.</param>
    /// <param name="logger">Where failures and refusals are logged.</param>
    public FleetInbox(AggregatorOptions options, FleetHandlers handlers, int maxDeltaBytes, AggregatorMetrics metrics, TimeProvider time, ILogger logger)
    {
        _options = options;
        _handlers = handlers;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        MaxDeltaBytes = maxDeltaBytes;
        Client = new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = options.InstanceId,
            Host = options.BrokerHost,
            Port = options.BrokerPort,
            Username = options.Username,
            Password = options.Password,
            Tls = options.LoadTls(),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(5),
            MaximumPacketSize = FleetLimits.AggregatorPacketBytes(maxDeltaBytes),
            MaxPayloadBytes = topic => FleetTopics.TryParse(topic)?.Kind == FleetTopicKind.DeviceDelta ? maxDeltaBytes : FleetLimits.MaxControlPayloadBytes,
            AcknowledgeAfterHandling = options.Inbox.AcknowledgeAfterStore,
            // Bounds what is read and not yet acknowledged (MQTTnet queues the rest unbounded): room for the batch being
            // stored, the one filling and the queue between them; the broker's own in-flight limit may be lower.
            ReceiveMaximum = ReceiveMaximum(options.Inbox.BatchMax),
        });
        if (options.Inbox.BatchMax > 1)
            _batcher = new DeltaBatcher(options.Inbox.BatchMax, options.Inbox.BatchLinger, StoreBatch, StoreFailed, time, AcknowledgeFailed);
        Client.MessageReceived += OnMessageAsync;
        Client.HandlerFailed += OnHandlerFailed;
        Client.PayloadRefused += OnPayloadRefused;
    }

    /// <summary>The client, also used to publish releases and commands.</summary>
    public FleetMqttClient Client { get; }

    /// <summary>Largest delta payload accepted, in bytes.</summary>
    public int MaxDeltaBytes { get; }

    /// <summary>The group commit's batches, or null when each delta is stored on its own (<see cref="InboxOptions.BatchMax"/> = 1).</summary>
    internal DeltaBatcher? Batcher => _batcher;

    /// <summary>The MQTT 5 Receive Maximum for a batch size: four batches, at least 1,024, at most the protocol's 65,535.</summary>
    internal static ushort ReceiveMaximum(int batchMax) => (ushort)Math.Clamp(4L * batchMax, 1024, ushort.MaxValue);

    /// <summary>Subscribes and connects.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var deltas = FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceDelta);
        await Client.SubscribeAsync(_options.SharedSubscription ? $"$share/{_options.ShareGroup}/{deltas}" : deltas, cancellationToken: cancellationToken).ConfigureAwait(false);
        await Client.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceTelemetry), cancellationToken: cancellationToken).ConfigureAwait(false);
        await Client.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceStatus), cancellationToken: cancellationToken).ConfigureAwait(false);
        await Client.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <exception cref="TimeoutException">A batch's store or acknowledgements, or the client's disconnect, did not end in time (the message says which); everything is released all the same.</exception>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task recovery;
        lock (_lock) recovery = _recovery;
        try
        {
            // Bounded by itself (the pause's disconnect has a timeout, the delay ends with _stop); its errors were logged.
            await recovery.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        try
        {
            // The batch being stored still gets its acknowledgements; what is queued behind it is left to the broker.
            if (_batcher is not null) await _batcher.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await Client.DisposeAsync().ConfigureAwait(false);
            _stop.Dispose();
        }
    }

    private async Task OnMessageAsync(FleetMessage message)
    {
        var topic = FleetTopics.TryParse(message.Topic);
        if (topic is null || topic.Fleet != _options.Fleet || topic.DeviceId is null) return;
        switch (topic.Kind)
        {
            case FleetTopicKind.DeviceDelta when _batcher is not null && message.Acknowledgement is { } acknowledgement:
                // The batch acknowledges it after its commit; the handler returns so the next delta is read meanwhile.
                acknowledgement.Defer();
                try
                {
                    await _batcher.EnqueueAsync(new QueuedDelta(new ReceivedDelta(topic.DeviceId, message.Payload), message.Topic, acknowledgement), _stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
                {
                    acknowledgement.Abandon(); // the broker re-sends it to the next session
                    // Not shutting down: the batcher's writer died (the inner exception says why). Pausing makes it seen
                    // and keeps the deltas with the broker instead of abandoning each one as it comes.
                    if (ex is ChannelClosedException { InnerException: { } writerFailure } && !_stop.IsCancellationRequested)
                        StoreFailed(message.Topic, writerFailure);
                }
                break;
            case FleetTopicKind.DeviceDelta:
                StoreBatch([new ReceivedDelta(topic.DeviceId, message.Payload)]);
                break;
            case FleetTopicKind.DeviceTelemetry:
                try
                {
                    var t = FleetJson.ReadTelemetry(message.Payload);
                    if (t.DeviceId == topic.DeviceId) _handlers.Telemetry(topic.DeviceId, t, _time.GetUtcNow());
                }
                catch (FleetMessageException ex)
                {
                    LogBadTelemetry(_logger, topic.DeviceId, ex.Message);
                }
                break;
            case FleetTopicKind.DeviceStatus:
                _handlers.Status(topic.DeviceId, message.Payload, _time.GetUtcNow());
                break;
        }
    }

    private void StoreBatch(IReadOnlyList<ReceivedDelta> deltas)
    {
        _handlers.Deltas(deltas);
        Volatile.Write(ref _failuresInARow, 0);
    }

    private void AcknowledgeFailed(string topic, Exception error) => LogAcknowledgeFailed(_logger, error, Shorten(topic));

    private void OnHandlerFailed(FleetMessage message, Exception error) => StoreFailed(message.Topic, error);

    private void StoreFailed(string failedTopic, Exception error)
    {
        _metrics.InboxFailed(error);
        var failures = Interlocked.Increment(ref _failuresInARow);
        var delay = RetryDelay(failures);
        var topic = Shorten(failedTopic);
        var seconds = delay.TotalSeconds;
        LogStoreFailed(_logger, error, topic, seconds);
        lock (_lock)
        {
            if (_stop.IsCancellationRequested || !_recovery.IsCompleted) return;
            _recovery = PauseAndResumeAsync(delay, _stop.Token);
        }
    }

    private async Task PauseAndResumeAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Client.PauseAsync().ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            // Paused all the same (nothing more is handled or acknowledged); the resume below must still come.
            LogPauseSlow(_logger, ex);
        }
        await Task.Delay(delay, _time, stop).ConfigureAwait(false);
        LogResuming(_logger, _options.InstanceId);
        Client.Resume();
    }

    private TimeSpan RetryDelay(int failures)
    {
        var inbox = _options.Inbox;
        var factor = Math.Pow(2, Math.Min(failures - 1, 20));
        return TimeSpan.FromTicks((long)Math.Min(inbox.StorageRetryMaxDelay.Ticks, inbox.StorageRetryDelay.Ticks * factor));
    }

    private void OnPayloadRefused(string topic, long length, int cap)
    {
        var kind = FleetTopics.TryParse(topic)?.Kind switch
        {
            FleetTopicKind.DeviceDelta => "delta",
            FleetTopicKind.DeviceTelemetry => "telemetry",
            FleetTopicKind.DeviceStatus => "status",
            _ => "other",
        };
        _metrics.Oversized(kind);
        var shown = Shorten(topic);
        LogOversized(_logger, kind, shown, length, cap);
    }

    private static string Shorten(string text) => DisplayText.Truncate(text, LoggedTopicLength);

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Ignoring telemetry from {Device}: {Error}")]
    private static partial void LogBadTelemetry(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 501, Level = LogLevel.Critical, Message = "Could not store the message on {Topic}: it stays unacknowledged with the broker, and consumption pauses for {DelaySeconds:0.#} s before reconnecting (the broker then re-sends it). Fix the registry's storage if this repeats")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, string topic, double delaySeconds);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Refused a {Kind} message on {Topic} before decoding: {Length} bytes, over the cap of {Cap} (inbox:maxDeltaBytes for deltas)")]
    private static partial void LogOversized(ILogger logger, string kind, string topic, long length, int cap);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "Stored the delta on {Topic} but could not acknowledge it; the broker re-sends it after the next reconnect and the registry drops the duplicate")]
    private static partial void LogAcknowledgeFailed(ILogger logger, Exception exception, string topic);

    [LoggerMessage(EventId = 505, Level = LogLevel.Error, Message = "Pausing the inbox after a storage failure took too long; it stays paused until the retry delay is over")]
    private static partial void LogPauseSlow(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 503, Level = LogLevel.Information, Message = "Aggregator {Instance} consumes again after a storage failure; the broker re-sends what was not acknowledged")]
    private static partial void LogResuming(ILogger logger, string instance);
}
