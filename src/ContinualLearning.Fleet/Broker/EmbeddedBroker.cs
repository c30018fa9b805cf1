using System.Net;
using System.Net.Sockets;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Server;

namespace ContinualLearning.Fleet.Broker;

/// <summary>
/// An in-process MQTT 5 broker (MQTTnet.Server) on a loopback port, for <c>cl demo</c> and tests.
/// Sessions live in memory only and shared subscriptions are not supported; production uses Mosquitto.
/// It records every error the server logs so tests can fail on them (as MQTTnet's own TestEnvironment does).
/// Can be stopped and started again on the same port, to exercise client reconnects.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttNetEventLogger _logger = new("broker");
    private readonly List<string> _errors = [];
    private readonly Lock _lock = new();
    private MqttServer? _server;

    /// <param name="port">TCP port on 127.0.0.1; 0 picks a free one on first start and keeps it for restarts.</param>
    public EmbeddedBroker(int port = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        Port = port;
        _logger.LogMessagePublished += (_, e) =>
        {
            if (e.LogMessage.Level == MqttNetLogLevel.Error)
                lock (_lock) _errors.Add(e.LogMessage.ToString());
        };
    }

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

    /// <summary>Starts listening on 127.0.0.1:<see cref="Port"/>.</summary>
    /// <exception cref="InvalidOperationException">Already running, or the port is taken.</exception>
    public async Task StartAsync()
    {
        if (_server is not null) throw new InvalidOperationException("The embedded broker is already running; stop it first.");
        if (Port == 0) Port = FreeLoopbackPort();
        var options = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
            .WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(Port)
            // Restarting on the same port right after a stop must not fail on TIME_WAIT.
            .WithDefaultEndpointReuseAddress()
            .WithPersistentSessions()
            .Build();
        var server = new MqttServerFactory().CreateMqttServer(options, _logger);
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

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
