using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Server;

namespace ContinualLearning.Fleet.Broker;

/// <summary>
/// An in-process MQTT 5 broker (MQTTnet.Server) on a loopback port, for <c>cl demo</c> and tests.
/// Sessions live in memory only and shared subscriptions are not supported; production uses Mosquitto.
/// It records every error the server logs so tests can fail on them (as MQTTnet's own TestEnvironment does).
/// Can be stopped and started again on the same port, to exercise client reconnects.
/// With <see cref="EmbeddedBrokerSecurity"/> it is a fleet broker: TLS only, a client certificate issued by the fleet
/// CA required, the identity taken from it, and every publish and subscription checked against the fleet ACL
/// (<see cref="Denials"/> counts what was refused).
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttNetEventLogger _logger = new("broker");
    private readonly List<string> _errors = [];
    private readonly Lock _lock = new();
    private readonly BrokerGuard? _guard;
    private MqttServer? _server;

    /// <param name="port">TCP port on 127.0.0.1; 0 picks a free one on first start and keeps it for restarts.</param>
    public EmbeddedBroker(int port = 0)
        : this(security: null, port)
    {
    }

    /// <param name="security">Null for the open plain-TCP broker (tests of the protocol itself); set for a fleet broker with mutual TLS and the ACL.</param>
    /// <param name="port">TCP port on 127.0.0.1; 0 picks a free one on first start and keeps it for restarts.</param>
    /// <param name="logger">Where refused connections and denied publishes and subscriptions are logged.</param>
    /// <param name="time">Clock the client certificates' validity is checked against.</param>
    public EmbeddedBroker(EmbeddedBrokerSecurity? security, int port = 0, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        Port = port;
        Security = security;
        if (security is not null) _guard = new BrokerGuard(security, time ?? TimeProvider.System, logger ?? NullLogger.Instance);
        _logger.LogMessagePublished += (_, e) =>
        {
            if (e.LogMessage.Level != MqttNetLogLevel.Error) return;
            // A refused client certificate ends the TLS handshake with an exception the server logs as an error; on a
            // secure broker that is the broker doing its job, counted as a refused connection instead.
            if (_guard is not null && e.LogMessage.Exception is AuthenticationException or IOException)
            {
                _guard.CountRefusedHandshake(e.LogMessage.Exception);
                return;
            }
            lock (_lock) _errors.Add(e.LogMessage.ToString());
        };
    }

    /// <summary>The TLS and ACL settings of a fleet broker, or null for the open plain-TCP broker.</summary>
    public EmbeddedBrokerSecurity? Security { get; }

    /// <summary>What a secure broker refused so far (all zero on the open broker).</summary>
    public BrokerDenials Denials => _guard?.Denials ?? new BrokerDenials(0, 0, 0);

    /// <summary>The loopback port; chosen on the first start when 0 was given, then kept for restarts.</summary>
    public int Port { get; private set; }

    /// <summary>Whether the broker is listening.</summary>
    public bool IsRunning => _server?.IsStarted == true;

    /// <summary>The underlying server, for event hooks in tests (e.g. connection validation for ACL experiments).</summary>
    internal MqttServer? Server => _server;

    /// <summary>Errors the server logged since start (or the last <see cref="ClearErrors"/>).</summary>
    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_lock) return _errors.ToArray();
        }
    }

    /// <summary>Forgets the errors logged so far.</summary>
    public void ClearErrors()
    {
        lock (_lock) _errors.Clear();
    }

    /// <summary>Starts listening on 127.0.0.1:<see cref="Port"/> (TLS only when secure).</summary>
    /// <exception cref="InvalidOperationException">Already running, or the port is taken.</exception>
    public async Task StartAsync()
    {
        if (_server is not null) throw new InvalidOperationException("The embedded broker is already running; stop it first.");
        if (Port == 0) Port = FreeLoopbackPort();
        var server = new MqttServerFactory().CreateMqttServer(BuildOptions(), _logger);
        if (_guard is not null)
        {
            server.ValidatingConnectionAsync += _guard.ValidateConnectionAsync;
            server.InterceptingPublishAsync += _guard.InterceptPublishAsync;
            server.InterceptingSubscriptionAsync += _guard.InterceptSubscriptionAsync;
        }
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            server.Dispose();
            throw new InvalidOperationException($"The embedded broker could not listen on 127.0.0.1:{Port} ({ex.Message}); pick another port or stop what uses it.", ex);
        }
        _server = server;
    }

    /// <summary>Stops the broker; connected clients lose their connection and start reconnecting.</summary>
    public async Task StopAsync()
    {
        var server = _server;
        if (server is null) return;
        _server = null;
        await server.StopAsync().ConfigureAwait(false);
        server.Dispose();
    }

    /// <summary>Stops the broker.</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private MqttServerOptions BuildOptions()
    {
        var builder = new MqttServerOptionsBuilder().WithPersistentSessions();
        if (Security is null)
        {
            return builder
                .WithDefaultEndpoint()
                .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
                .WithDefaultEndpointBoundIPV6Address(IPAddress.None)
                .WithDefaultEndpointPort(Port)
                // Restarting on the same port right after a stop must not fail on TIME_WAIT.
                .WithDefaultEndpointReuseAddress()
                .Build();
        }
        // No plain listener at all: the only way in is a TLS session with a fleet client certificate.
        return builder
            .WithoutDefaultEndpoint()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
            .WithEncryptedEndpointBoundIPV6Address(IPAddress.None)
            .WithEncryptedEndpointPort(Port)
            .WithTlsEndpointReuseAddress()
            .WithEncryptionCertificate(Security.ServerCertificate)
            .WithEncryptionSslProtocol(SslProtocols.Tls12 | SslProtocols.Tls13)
            .WithClientCertificate(_guard!.ValidateClientCertificate)
            .Build();
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
