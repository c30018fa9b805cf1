using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Exceptions;

namespace ContinualLearning.Fleet.Client;

/// <summary>
/// MQTT 5 client for devices and the aggregator, on MQTTnet 5 (which has no managed client): it keeps itself
/// connected with exponential backoff and full jitter, re-subscribes and re-publishes its birth message after
/// every reconnect, uses a persistent session (CleanStart = false) so QoS 1 traffic survives short outages,
/// registers a last will, and offers request/response over MQTT 5 ResponseTopic + CorrelationData. This file holds the
/// connection's lifecycle; FleetMqttClient.Messaging.cs subscribing, publishing, requests and flow control.
/// </summary>
public sealed partial class FleetMqttClient : IAsyncDisposable
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
