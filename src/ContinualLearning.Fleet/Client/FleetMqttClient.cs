using System.Buffers;
using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;

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
    private readonly ConcurrentDictionary<string, MqttQualityOfServiceLevel> _subscriptions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<FleetMessage>> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _connectionLost = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _jitter = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource _connected = NewSignal();
    private Task? _loop;
    private int _connectCount;
    private bool _disposed;
    private bool _aborted;

    public FleetMqttClient(FleetMqttClientOptions options, IMqttNetLogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _mqttOptions = BuildOptions(options);
        _client = logger is null ? new MqttClientFactory().CreateMqttClient() : new MqttClientFactory().CreateMqttClient(logger);
        // Handlers go on before the first connect: a persistent session may deliver queued messages immediately.
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>Raised for every received message that is not a reply to <see cref="RequestAsync"/>. Exceptions are caught and reported via <see cref="HandlerFailed"/>.</summary>
    public event Func<FleetMessage, Task>? MessageReceived;

    /// <summary>Raised after each successful (re)connect and resubscribe.</summary>
    public event Action<int>? Connected;

    /// <summary>Raised when a connect attempt fails; the argument is the delay before the next attempt.</summary>
    public event Action<Exception, TimeSpan>? ConnectFailed;

    /// <summary>Raised when a <see cref="MessageReceived"/> handler throws.</summary>
    public event Action<FleetMessage, Exception>? HandlerFailed;

    public string ClientId => _options.ClientId;

    public bool IsConnected => _client.IsConnected;

    /// <summary>Successful connects so far (1 after the first, 2 after one reconnect, ...).</summary>
    public int ConnectCount => Volatile.Read(ref _connectCount);

    /// <summary>Starts the connection loop; returns once the first connect succeeded (or throws on cancellation).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock)
        {
            _loop ??= Task.Run(() => RunAsync(_stop.Token));
        }
        await WaitUntilConnectedAsync(cancellationToken);
    }

    public Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default)
    {
        Task signal;
        lock (_lock) signal = _connected.Task;
        return signal.WaitAsync(cancellationToken);
    }

    /// <summary>Subscribes now (when connected) and after every reconnect.</summary>
    public async Task SubscribeAsync(string topicFilter, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        _subscriptions[topicFilter] = qos;
        if (!_client.IsConnected) return; // the connect loop subscribes everything it knows
        try
        {
            await SubscribeCoreAsync(topicFilter, qos, cancellationToken);
        }
        catch (Exception ex) when (ex is MqttCommunicationException or MqttClientNotConnectedException)
        {
            // Lost the connection meanwhile; the reconnect re-subscribes.
        }
    }

    public async Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        _subscriptions.TryRemove(topicFilter, out _);
        if (_client.IsConnected)
            await _client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(topicFilter).Build(), cancellationToken);
    }

    /// <summary>
    /// Publishes, waiting for a connection first. At QoS ≥ 1 a publish interrupted by a disconnect is retried after the
    /// reconnect until <paramref name="cancellationToken"/> fires (at-least-once: receivers must tolerate duplicates).
    /// </summary>
    public async Task PublishAsync(
        string topic,
        byte[] payload,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce,
        bool retain = false,
        string? responseTopic = null,
        byte[]? correlationData = null,
        string? contentType = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(payload);
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain);
        if (responseTopic is not null) builder.WithResponseTopic(responseTopic);
        if (correlationData is not null) builder.WithCorrelationData(correlationData);
        if (contentType is not null) builder.WithContentType(contentType);
        var message = builder.Build();

        while (true)
        {
            await WaitUntilConnectedAsync(cancellationToken);
            try
            {
                var result = await _client.PublishAsync(message, cancellationToken);
                if (!result.IsSuccess)
                    throw new InvalidOperationException($"The broker refused the publish to '{topic}': {result.ReasonCode} {result.ReasonString} (check the broker ACL for client '{ClientId}').");
                return;
            }
            catch (Exception ex) when (qos != MqttQualityOfServiceLevel.AtMostOnce && ex is MqttCommunicationException or MqttClientNotConnectedException)
            {
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
            await WaitUntilConnectedAsync(cancellationToken);
            await SubscribeAsync(responseTopic, MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken);
        }
        var correlation = Guid.NewGuid().ToByteArray();
        var key = Convert.ToHexString(correlation);
        var reply = new TaskCompletionSource<FleetMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[key] = reply;
        try
        {
            await PublishAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce, retain: false, responseTopic, correlation, "application/json", cancellationToken);
            return await reply.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No reply on '{responseTopic}' within {timeout.TotalSeconds:0.#} s to the request sent to '{topic}'; the device may be offline (its status topic says) or busy.");
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    /// <summary>Answers a request received with a response topic, echoing its correlation data.</summary>
    public Task ReplyAsync(FleetMessage request, byte[] payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(request.ResponseTopic))
            throw new InvalidOperationException($"The message on '{request.Topic}' has no response topic; the sender did not ask for a reply.");
        return PublishAsync(request.ResponseTopic, payload, MqttQualityOfServiceLevel.AtLeastOnce, retain: false, responseTopic: null, request.CorrelationData, "application/json", cancellationToken);
    }

    /// <summary>
    /// Stops reconnecting and disconnects cleanly. With <paramref name="publishWill"/> the broker still publishes the
    /// last will (MQTT 5 reason "disconnect with will message"), e.g. for a device that shuts down on purpose.
    /// </summary>
    public async Task StopAsync(bool publishWill = false)
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
        if (!_aborted && _client.IsConnected)
        {
            var reason = publishWill ? MqttClientDisconnectOptionsReason.DisconnectWithWillMessage : MqttClientDisconnectOptionsReason.NormalDisconnection;
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(reason).Build());
            }
            catch (Exception ex) when (ex is MqttCommunicationException or MqttClientNotConnectedException)
            {
                // Already gone; nothing to tell the broker.
            }
        }
    }

    /// <summary>Drops the TCP connection without a DISCONNECT packet, as a power cut would (tests of the last will).</summary>
    internal async Task AbortAsync()
    {
        _aborted = true;
        await _stop.CancelAsync();
        _client.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await StopAsync();
        _client.Dispose();
        _stop.Dispose();
        _connectionLost.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var attempt = 0;
        while (!stop.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                try
                {
                    using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
                    {
                        timeout.CancelAfter(_options.ConnectTimeout);
                        var result = await _client.ConnectAsync(_mqttOptions, timeout.Token);
                        if (result.ResultCode != MqttClientConnectResultCode.Success)
                            throw new InvalidOperationException(RefusalMessage(result));
                    }
                    await OnConnectedAsync(stop);
                    attempt = 0;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    var delay = ReconnectBackoff.Delay(attempt++, _options.ReconnectBaseDelay, _options.ReconnectMaxDelay, _jitter);
                    ConnectFailed?.Invoke(DescribeConnectFailure(ex), delay);
                    try
                    {
                        await Task.Delay(delay, stop);
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
                await _connectionLost.WaitAsync(stop);
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
            await SubscribeCoreAsync(filter, qos, stop);
        if (_options.Birth is { } birth)
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(birth.Topic)
                .WithPayload(birth.Payload())
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithRetainFlag(birth.Retain)
                .Build();
            await _client.PublishAsync(message, stop);
        }
        var count = Interlocked.Increment(ref _connectCount);
        lock (_lock) _connected.TrySetResult();
        Connected?.Invoke(count);
    }

    private async Task SubscribeCoreAsync(string filter, MqttQualityOfServiceLevel qos, CancellationToken cancellationToken)
    {
        var result = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, qos).Build(), cancellationToken);
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
        if (e.ClientWasConnected) _connectionLost.Release();
        return Task.CompletedTask;
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var m = e.ApplicationMessage;
        var message = new FleetMessage(m.Topic, m.Payload.ToArray(), m.Retain, m.ResponseTopic, m.CorrelationData, m.ContentType);
        if (message.CorrelationData is { Length: > 0 } correlation
            && _pending.TryRemove(Convert.ToHexString(correlation), out var waiter))
        {
            waiter.TrySetResult(message);
            return;
        }
        var handlers = MessageReceived;
        if (handlers is null) return;
        foreach (var handler in handlers.GetInvocationList().Cast<Func<FleetMessage, Task>>())
        {
            try
            {
                await handler(message);
            }
            catch (Exception ex)
            {
                HandlerFailed?.Invoke(message, ex);
            }
        }
    }

    /// <summary>CONNACK refusal: which broker, which client, the MQTT 5 reason code and what to check for that code.</summary>
    private string RefusalMessage(MqttClientConnectResult result)
    {
        var hint = result.ResultCode switch
        {
            // Mosquitto 2 answers a wrong password with NotAuthorized (0x87), not BadUserNameOrPassword (0x86).
            MqttClientConnectResultCode.NotAuthorized or MqttClientConnectResultCode.BadUserNameOrPassword or MqttClientConnectResultCode.BadAuthenticationMethod
                => _options.Username is null && _options.Tls?.ClientCertificates is null
                    ? "no username and no client certificate were sent and the broker does not allow anonymous clients: set the username and password (device: broker:username, broker:password) or a client certificate"
                    : $"check the username '{_options.Username ?? "(none)"}' and its password against the broker's password file, or that the client certificate is signed by the broker's CA",
            MqttClientConnectResultCode.ClientIdentifierNotValid => $"the broker rejects the client id '{ClientId}'; use a shorter id without special characters",
            MqttClientConnectResultCode.Banned => "the broker banned this client; ask the broker operator",
            MqttClientConnectResultCode.ServerUnavailable or MqttClientConnectResultCode.ServerBusy => "the broker is overloaded or shutting down; the client keeps retrying",
            _ => "check the broker log for this client id",
        };
        var reason = string.IsNullOrEmpty(result.ReasonString) ? "" : $" ('{result.ReasonString}')";
        return $"The broker {_options.Host}:{_options.Port} refused client '{ClientId}' with reason code {result.ResultCode} ({(int)result.ResultCode}){reason}: {hint}.";
    }

    /// <summary>
    /// Turns a failed connect into an error a user can act on. MQTTnet's own messages name neither the broker nor the
    /// setting to change (a rejected broker certificate only says "rejected by the provided
    /// RemoteCertificateValidationCallback"), and ConnectFailed is all a device log shows, so add both here.
    /// The original exception stays as InnerException.
    /// </summary>
    private Exception DescribeConnectFailure(Exception ex)
    {
        if (ex is InvalidOperationException) return ex; // our own CONNACK refusal, already described
        var broker = $"{_options.Host}:{_options.Port}";
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is System.Security.Authentication.AuthenticationException auth)
            {
                var targetHost = _options.Tls?.TargetHost ?? _options.Host;
                var hint = auth.Message.Contains("remote certificate", StringComparison.OrdinalIgnoreCase)
                    ? $"the broker's certificate is not trusted: check that the trusted CA (device: broker:tlsCaFile) is the CA that signed the broker's certificate and that the certificate names '{targetHost}' (subject alternative name). Setting AllowUntrustedCertificates (broker:tlsAllowUntrusted) skips this check and is for testing only"
                    : "check that the broker listens with TLS on this port, that TLS versions match, and, if the broker requires client certificates, that one signed by its CA is configured";
                return new InvalidOperationException($"TLS handshake with broker {broker} failed for client '{ClientId}' ({auth.Message}): {hint}.", ex);
            }
            if (e is System.Net.Sockets.SocketException socket && IsUnreachable(socket.SocketErrorCode))
                return new InvalidOperationException($"Cannot reach broker {broker} for client '{ClientId}' ({socket.SocketErrorCode}: {socket.Message}): check the host and port (device: broker:host, broker:port) and that the broker is running.", ex);
        }
        if (ex is OperationCanceledException)
            return new TimeoutException($"Broker {broker} did not answer client '{ClientId}' within {_options.ConnectTimeout.TotalSeconds:0.#} s: check the port, and that TLS is on when the broker expects it (and off when not).", ex);
        // With TLS 1.3 the client finishes its half of the handshake before the broker checks the client certificate,
        // so a broker that requires one (Mosquitto require_certificate) shows up only as a socket closed under the
        // CONNECT packet ("Transport endpoint is not connected" / "Connection reset"), not as a TLS error.
        var tlsHint = _options.Tls is null
            ? "check the broker log for this client id"
            : _options.Tls.ClientCertificates is null
                ? "the broker may require a client certificate (require_certificate): configure one signed by the broker's CA, and check the broker log"
                : "the broker may have rejected the client certificate: check it is signed by the CA the broker trusts (cafile) and not expired, and check the broker log";
        return new InvalidOperationException($"Broker {broker} closed the connection of client '{ClientId}' while connecting ({ex.GetType().Name}: {ex.Message}): {tlsHint}.", ex);
    }

    /// <summary>Socket errors that mean the TCP connect itself failed, as opposed to a broker that hung up afterwards.</summary>
    private static bool IsUnreachable(System.Net.Sockets.SocketError error) => error is
        System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.HostNotFound
        or System.Net.Sockets.SocketError.HostUnreachable or System.Net.Sockets.SocketError.NetworkUnreachable
        or System.Net.Sockets.SocketError.TimedOut or System.Net.Sockets.SocketError.TryAgain or System.Net.Sockets.SocketError.NoData;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static MqttClientOptions BuildOptions(FleetMqttClientOptions o)
    {
        ArgumentException.ThrowIfNullOrEmpty(o.ClientId, nameof(o.ClientId));
        var b = new MqttClientOptionsBuilder()
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(o.ClientId)
            .WithTcpServer(o.Host, o.Port)
            .WithCleanStart(o.CleanStart)
            .WithSessionExpiryInterval(o.SessionExpirySeconds)
            .WithKeepAlivePeriod(o.KeepAlive)
            .WithTimeout(o.ConnectTimeout);
        if (o.ReceiveMaximum > 0) b.WithReceiveMaximum(o.ReceiveMaximum);
        if (o.Username is not null) b.WithCredentials(o.Username, o.Password);
        if (o.Will is { } will)
        {
            b.WithWillTopic(will.Topic)
                .WithWillPayload(will.Payload)
                .WithWillRetain(will.Retain)
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithWillContentType("application/json");
        }
        if (o.Tls is { } tls)
        {
            b.WithTlsOptions(t =>
            {
                t.UseTls();
                t.WithTargetHost(tls.TargetHost ?? o.Host);
                if (tls.ClientCertificates is { } certs) t.WithClientCertificates(certs);
                if (tls.TrustedCertificateAuthorities is { } roots) t.WithTrustChain(roots);
                if (tls.AllowUntrustedCertificates)
                {
                    t.WithAllowUntrustedCertificates();
                    t.WithIgnoreCertificateChainErrors();
                    t.WithCertificateValidationHandler(_ => true);
                }
            });
        }
        else
        {
            b.WithTlsOptions(t => t.UseTls(false));
        }
        return b.Build();
    }
}
