using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Exceptions;

namespace ContinualLearning.Fleet.Client;

/// <summary>
/// MQTT 5 client for devices and the aggregator, on MQTTnet 5 (which has no managed client): it keeps itself
/// connected with exponential backoff and full jitter, re-subscribes and re-publishes its birth message after
/// every reconnect, uses a persistent session (CleanStart = false) so QoS 1 traffic survives short outages,
/// registers a last will, and offers request/response over MQTT 5 ResponseTopic + CorrelationData.
/// </summary>
public sealed class FleetMqttClient : IAsyncDisposable
{
    private readonly FleetMqttClientOptions _options;
    private readonly MqttClientOptions _mqttOptions;
    private readonly IMqttClient _client;
    private readonly ConcurrentDictionary<string, FleetQos> _subscriptions = new(StringComparer.Ordinal);
    private readonly InboundMessages _inbound;
    private readonly ReceiveWindow? _window;
    private readonly SemaphoreSlim _connectionLost = new(0);
    private readonly SemaphoreSlim _resumed = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _jitter = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _connected = NewSignal();
    private Task? _loop;
    private int _connectCount;
    private bool _disposed;
    private bool _aborted;

    /// <summary>Creates a client; nothing connects until <see cref="StartAsync"/>.</summary>
    /// <exception cref="ArgumentException">The options have no client id.</exception>
    public FleetMqttClient(FleetMqttClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _mqttOptions = MqttOptionsFactory.Build(options);
        // With a Receive Maximum the client enforces it too: a broker that ignores it must not fill our memory.
        _window = options.ReceiveMaximum > 0 ? new ReceiveWindow(options.ReceiveMaximum) : null;
        _client = _window is null ? new MqttClientFactory().CreateMqttClient() : new MqttClientFactory().CreateMqttClient(new ReceiveWindowAdapterFactory(_window));
        _inbound = new InboundMessages(options, _window);
        // Handlers go on before the first connect: a persistent session may deliver queued messages immediately.
        _client.ApplicationMessageReceivedAsync += _inbound.OnMessageAsync;
        _client.DisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>
    /// Raised for every received message that is not a reply to <see cref="RequestAsync"/>. A QoS 1/2 message is
    /// acknowledged once every handler returned, unless a handler took the acknowledgement over
    /// (<see cref="FleetMessage.Acknowledgement"/>, <see cref="FleetAcknowledgement.Defer"/>); when one throws, the exception goes to <see cref="HandlerFailed"/>, the
    /// message stays unacknowledged and the broker re-sends it after the next reconnect (persistent session). A handler
    /// that cannot succeed for the moment (storage down) should have its owner <see cref="PauseAsync"/> the client.
    /// </summary>
    public event Func<FleetMessage, Task>? MessageReceived
    {
        add => _inbound.MessageReceived += value;
        remove => _inbound.MessageReceived -= value;
    }

    /// <summary>Raised after each successful (re)connect and resubscribe.</summary>
    public event Action<int>? Connected;

    /// <summary>Raised when a connect attempt fails; the argument is the delay before the next attempt.</summary>
    public event Action<Exception, TimeSpan>? ConnectFailed;

    /// <summary>Raised when a <see cref="MessageReceived"/> handler throws; the message was not acknowledged.</summary>
    public event Action<FleetMessage, Exception>? HandlerFailed
    {
        add => _inbound.HandlerFailed += value;
        remove => _inbound.HandlerFailed -= value;
    }

    /// <summary>
    /// Raised for a message whose payload is over its cap (<see cref="FleetMqttClientOptions.MaxPayloadBytes"/>): topic,
    /// payload length, cap. The payload was neither copied nor handled. The topic is the sender's choice: truncate it
    /// before logging.
    /// </summary>
    public event Action<string, long, int>? PayloadRefused
    {
        add => _inbound.PayloadRefused += value;
        remove => _inbound.PayloadRefused -= value;
    }

    /// <summary>Whether <see cref="PauseAsync"/> stopped the consumption (until <see cref="Resume"/>).</summary>
    public bool IsPaused => _inbound.Paused;

    /// <summary>The MQTT client id, which also names the broker-side session.</summary>
    public string ClientId => _options.ClientId;

    /// <summary>Whether the client is connected right now (it may drop at any moment; publishes wait for a reconnect).</summary>
    public bool IsConnected => _client.IsConnected;

    /// <summary>Successful connects so far (1 after the first, 2 after one reconnect, ...).</summary>
    public int ConnectCount => Volatile.Read(ref _connectCount);

    /// <summary>Starts the connection loop; returns once the first connect succeeded (or throws on cancellation).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock)
        {
            // The loop outlives this call: it stops on StopAsync/DisposeAsync (_stop), not on the caller's token.
            _loop ??= Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }
        await WaitUntilConnectedAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Completes when the client is connected (immediately if it is).</summary>
    public Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default)
    {
        Task signal;
        lock (_lock) signal = _connected.Task;
        return signal.WaitAsync(cancellationToken);
    }

    /// <summary>Subscribes now (when connected) and after every reconnect.</summary>
    public async Task SubscribeAsync(string topicFilter, FleetQos qos = FleetQos.AtLeastOnce, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        _subscriptions[topicFilter] = qos;
        if (!_client.IsConnected) return; // the connect loop subscribes everything it knows
        try
        {
            await SubscribeCoreAsync(topicFilter, qos, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MqttCommunicationException or MqttClientNotConnectedException)
        {
            // Lost the connection meanwhile; the reconnect re-subscribes.
        }
    }

    /// <summary>Unsubscribes now (when connected) and stops re-subscribing after reconnects.</summary>
    /// <exception cref="FleetConnectionException">The connection dropped during the unsubscribe; the reconnect will not subscribe again.</exception>
    public async Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        _subscriptions.TryRemove(topicFilter, out _);
        if (!_client.IsConnected) return;
        try
        {
            await _client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(topicFilter).Build(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            throw ConnectionLost($"unsubscribing from '{topicFilter}'", ex);
        }
    }

    /// <summary>
    /// Publishes, waiting for a connection first. At QoS ≥ 1 a publish interrupted by a disconnect is retried after the
    /// reconnect until <paramref name="cancellationToken"/> fires (at-least-once: receivers must tolerate duplicates).
    /// </summary>
    /// <exception cref="FleetConnectionException">A QoS 0 publish lost its connection; it is not retried.</exception>
    /// <exception cref="InvalidOperationException">The broker refused the publish (ACL).</exception>
    /// <exception cref="TimeoutException">
    /// QoS ≥ 1 and no PUBACK within <see cref="FleetMqttClientOptions.PublishTimeout"/> of sending, on a connection that is
    /// still up (the message may still arrive: a later try may be a duplicate).
    /// </exception>
    /// <exception cref="NoSubscriberException">
    /// <paramref name="requireSubscriber"/> is set and the broker answered "no matching subscribers" (0x10), which MQTTnet
    /// counts as a success: the message went nowhere. Deltas need it — right after a broker restart, before the
    /// aggregators have subscribed again, a delta would otherwise be dropped while the device thinks it delivered.
    /// </exception>
    public async Task PublishAsync(
        string topic,
        byte[] payload,
        FleetQos qos = FleetQos.AtLeastOnce,
        bool retain = false,
        string? responseTopic = null,
        byte[]? correlationData = null,
        string? contentType = null,
        bool requireSubscriber = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(payload);
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos.ToMqtt())
            .WithRetainFlag(retain);
        if (responseTopic is not null) builder.WithResponseTopic(responseTopic);
        if (correlationData is not null) builder.WithCorrelationData(correlationData);
        if (contentType is not null) builder.WithContentType(contentType);
        var message = builder.Build();

        while (true)
        {
            await WaitUntilConnectedAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                using var awaiting = _window?.AwaitingBroker();
                // MQTTnet bounds subscribes and pings by its own timeout but waits for a PUBACK until the token fires. Mosquitto
                // before 2.0.13 answers a publish only after everything it queued for this client (minutes after a backlog).
                using var answer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (qos != FleetQos.AtMostOnce) answer.CancelAfter(_options.PublishTimeout);
                MqttClientPublishResult result;
                try
                {
                    result = await _client.PublishAsync(message, answer.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or MqttCommunicationTimedOutException
                                           && answer.IsCancellationRequested && !cancellationToken.IsCancellationRequested && _client.IsConnected)
                {
                    // On a connection still up, sending again (a new packet id each time) would only repeat the wait.
                    throw new TimeoutException(
                        $"The broker did not acknowledge the publish to '{topic}' within {_options.PublishTimeout.TotalSeconds:0.#} s (PublishTimeout) although client '{ClientId}' is connected; "
                        + "not retried here. A broker busy with a backlog for this client answers late; the message may still arrive, so a later try may be a duplicate.", ex);
                }
                if (requireSubscriber && result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers)
                    throw new NoSubscriberException($"Nobody is subscribed to '{topic}' yet (the broker answered 0x10 no matching subscribers, e.g. just after it restarted): not delivered, try again later.");
                if (!result.IsSuccess)
                    throw new InvalidOperationException($"The broker refused the publish to '{topic}': {result.ReasonCode} {result.ReasonString} (check the broker ACL for client '{ClientId}').");
                return;
            }
            catch (Exception ex) when (IsConnectionLoss(ex))
            {
                if (qos == FleetQos.AtMostOnce)
                    throw ConnectionLost($"publishing to '{topic}' at QoS 0 (not retried)", ex);
                // Connection dropped mid-publish: wait for the reconnect and send again.
            }
        }
    }

    /// <summary>
    /// Sends a request with an MQTT 5 response topic and fresh correlation data, and returns the first reply that carries
    /// the same correlation data. Subscribes to <paramref name="responseTopic"/> on first use.
    /// </summary>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/>.</exception>
    public async Task<FleetMessage> RequestAsync(string topic, byte[] payload, string responseTopic, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(responseTopic);
        if (!_subscriptions.ContainsKey(responseTopic))
        {
            await WaitUntilConnectedAsync(cancellationToken).ConfigureAwait(false);
            await SubscribeAsync(responseTopic, FleetQos.AtLeastOnce, cancellationToken).ConfigureAwait(false);
        }
        var correlation = Guid.NewGuid().ToByteArray();
        var key = Convert.ToHexString(correlation);
        var reply = _inbound.ExpectReply(key);
        try
        {
            await PublishAsync(topic, payload, FleetQos.AtLeastOnce, retain: false, responseTopic, correlation, "application/json", cancellationToken: cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No reply on '{responseTopic}' within {timeout.TotalSeconds:0.#} s to the request sent to '{topic}'; the device may be offline (its status topic says) or busy.");
        }
        finally
        {
            _inbound.ForgetReply(key);
        }
    }

    /// <summary>Answers a request received with a response topic, echoing its correlation data.</summary>
    public Task ReplyAsync(FleetMessage request, byte[] payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(request.ResponseTopic))
            throw new InvalidOperationException($"The message on '{request.Topic}' has no response topic; the sender did not ask for a reply.");
        return PublishAsync(request.ResponseTopic, payload, FleetQos.AtLeastOnce, retain: false, responseTopic: null, request.CorrelationData, "application/json", cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Stops consuming: nothing more is handled or acknowledged, and the client disconnects (cleanly, without the will)
    /// and stays away until <see cref="Resume"/>. The broker keeps every unacknowledged QoS 1/2 message in the persistent
    /// session and re-sends it on the next connect. Safe to call from a <see cref="MessageReceived"/> handler, which must
    /// not await the returned task: the disconnect waits for the handler to return.
    /// </summary>
    /// <returns>The disconnect; it faults with <see cref="TimeoutException"/> when a handler held it past <see cref="FleetMqttClientOptions.DisconnectTimeout"/> (the client stays paused).</returns>
    public Task PauseAsync()
    {
        if (_inbound.Paused) return Task.CompletedTask;
        _inbound.Paused = true;
        // MQTTnet's disconnect waits for its message-processing task, which is the one running our handlers: run it
        // on another task so a handler can pause without waiting on itself.
        return Task.Run(() => DisconnectAsync(MqttClientDisconnectOptionsReason.NormalDisconnection));
    }

    /// <summary>Ends a <see cref="PauseAsync"/>: the client reconnects and the broker re-sends what was left unacknowledged.</summary>
    public void Resume()
    {
        if (!_inbound.Paused) return;
        _inbound.Paused = false;
        _resumed.Release();
    }

    /// <summary>
    /// Stops reconnecting and disconnects cleanly. With <paramref name="publishWill"/> the broker still publishes the
    /// last will (MQTT 5 reason "disconnect with will message"), e.g. for a device that shuts down on purpose.
    /// </summary>
    /// <exception cref="TimeoutException">
    /// A <see cref="MessageReceived"/> handler did not return within <see cref="FleetMqttClientOptions.DisconnectTimeout"/>
    /// (MQTTnet's disconnect waits for it); the client no longer reconnects.
    /// </exception>
    public async Task StopAsync(bool publishWill = false)
    {
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
        await DisconnectAsync(publishWill ? MqttClientDisconnectOptionsReason.DisconnectWithWillMessage : MqttClientDisconnectOptionsReason.NormalDisconnection).ConfigureAwait(false);
    }

    /// <exception cref="TimeoutException">The disconnect did not end within <see cref="FleetMqttClientOptions.DisconnectTimeout"/>.</exception>
    private async Task DisconnectAsync(MqttClientDisconnectOptionsReason reason)
    {
        if (_aborted || !_client.IsConnected) return;
        // MQTTnet's disconnect waits, without a bound, for its message-processing task, i.e. for the handler running now:
        // a handler stuck on something that never comes would hold every stop and pause for ever, silently.
        var disconnect = _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(reason).Build());
        try
        {
            await disconnect.WaitAsync(_options.DisconnectTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            // Already gone; nothing to tell the broker.
        }
        catch (TimeoutException)
        {
            _ = disconnect.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new TimeoutException(
                $"Client '{ClientId}' did not disconnect within {_options.DisconnectTimeout.TotalSeconds:0.#} s: MQTTnet waits for the message handler running now, "
                + "and it has not returned (a MessageReceived handler waiting for something that does not come). The disconnect goes on in the background.");
        }
    }

    /// <summary>The most messages read and not yet handled at once (0 without a Receive Maximum): tests.</summary>
    internal int ReceiveWindowPeak => _window?.Peak ?? 0;

    /// <summary>Drops the TCP connection without a DISCONNECT packet, as a power cut would (tests of the last will).</summary>
    internal async Task AbortAsync()
    {
        _aborted = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        _client.Dispose();
    }

    /// <summary>Stops (see <see cref="StopAsync"/>, without the will) and releases the connection.</summary>
    /// <exception cref="TimeoutException">The disconnect did not end in time (see <see cref="StopAsync"/>); the client is released all the same.</exception>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _client.Dispose();
            _stop.Dispose();
            _connectionLost.Dispose();
            _resumed.Dispose();
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            if (_inbound.Paused)
            {
                try
                {
                    await _resumed.WaitAsync(stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            if (!_client.IsConnected)
            {
                try
                {
                    using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
                    {
                        timeout.CancelAfter(_options.ConnectTimeout);
                        var result = await _client.ConnectAsync(_mqttOptions, timeout.Token).ConfigureAwait(false);
                        if (result.ResultCode != MqttClientConnectResultCode.Success)
                            throw new InvalidOperationException(ConnectFailures.RefusalMessage(_options, result));
                    }
                    await OnConnectedAsync(stop).ConfigureAwait(false);
                    attempt = 0;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    var delay = ReconnectBackoff.Delay(attempt++, _options.ReconnectBaseDelay, _options.ReconnectMaxDelay, _jitter);
                    ConnectFailed?.Invoke(ConnectFailures.Describe(_options, ex), delay);
                    try
                    {
                        await Task.Delay(delay, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    continue;
                }
            }
            try
            {
                await _connectionLost.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task OnConnectedAsync(CancellationToken stop)
    {
        foreach (var (filter, qos) in _subscriptions)
            await SubscribeCoreAsync(filter, qos, stop).ConfigureAwait(false);
        if (_options.Birth is { } birth)
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(birth.Topic)
                .WithPayload(birth.Payload())
                .WithQualityOfServiceLevel(FleetQos.AtLeastOnce.ToMqtt())
                .WithRetainFlag(birth.Retain)
                .Build();
            await _client.PublishAsync(message, stop).ConfigureAwait(false);
        }
        var count = Interlocked.Increment(ref _connectCount);
        lock (_lock) _connected.TrySetResult();
        Connected?.Invoke(count);
    }

    private async Task SubscribeCoreAsync(string filter, FleetQos qos, CancellationToken cancellationToken)
    {
        using var awaiting = _window?.AwaitingBroker();
        var result = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, qos.ToMqtt()).Build(), cancellationToken).ConfigureAwait(false);
        foreach (var item in result.Items)
            if ((int)item.ResultCode > (int)MqttClientSubscribeResultCode.GrantedQoS2)
                throw new InvalidOperationException($"The broker refused the subscription to '{filter}' for client '{ClientId}': {item.ResultCode} (check the broker ACL).");
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        lock (_lock)
        {
            if (_connected.Task.IsCompleted) _connected = NewSignal();
        }
        // Wake the loop only when a live connection was lost; failed connects are retried by the loop itself.
        if (e.ClientWasConnected)
        {
            _inbound.ConnectionLost();
            _connectionLost.Release();
        }
        return Task.CompletedTask;
    }

    /// <summary>MQTTnet's ways of saying the connection is gone (dropped under a call, or not there when it started).</summary>
    private static bool IsConnectionLoss(Exception ex) => ex is MqttCommunicationException or MqttClientNotConnectedException;

    private FleetConnectionException ConnectionLost(string operation, Exception ex) =>
        new($"Lost the connection to broker {_options.Host}:{_options.Port} of client '{ClientId}' while {operation} ({ex.Message}); the client reconnects by itself, retry after it has.", ex);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
