using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;

namespace ContinualLearning.Fleet.Client;

/// <summary>
/// The client's own side of MQTT 5 Receive Maximum: at most <see cref="Maximum"/> PUBLISH packets read from the
/// connection and not yet handled (<see cref="InboundMessages"/>). When the window is full the connection is not read
/// until a handler finishes. A broker that honours Receive Maximum never fills it; one that does not (Mosquitto before
/// 2.0.13, as Debian 12 ships it, releases up to Receive Maximum queued messages per in-order PUBACK) would otherwise
/// push a whole backlog into MQTTnet's unbounded receive queue: 3,000 WAV clips over MQTT held ~620 payloads (20 MB)
/// there at once and took the device daemon from 69 to 141–150 MB RSS (docs/benchmarks.md, "With the audio pipeline").
/// </summary>
/// <remarks>
/// Other packets (PINGRESP, answers to our own publishes) wait behind a full window too, for as long as one handler
/// takes; a handler awaiting the broker's answer opens the window (<see cref="AwaitingBroker"/>). A handler of a
/// previous connection finishing after a reconnect may free one slot of the new window early (at most
/// <see cref="Maximum"/> + 1 then); the count never goes below zero.
/// </remarks>
internal sealed class ReceiveWindow(int maximum)
{
    private static readonly AsyncLocal<bool> InHandler = new();
    private readonly Lock _lock = new();
    private int _pending;
    private int _peak;
    private int _awaitingBroker;
    private TaskCompletionSource? _room;

    public int Maximum { get; } = maximum > 0 ? maximum : throw new ArgumentOutOfRangeException(nameof(maximum), maximum, "The receive window needs at least one slot.");

    /// <summary>The most PUBLISH packets read and not yet handled at any moment (tests, diagnostics).</summary>
    public int Peak
    {
        get
        {
            lock (_lock) return _peak;
        }
    }

    /// <summary>A new connection: whatever the old one had read is gone with MQTTnet's queue.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _pending = 0;
            ReleaseWaiterLocked();
        }
    }

    /// <summary>Marks the current async flow as a message handler's (set by <see cref="InboundMessages"/>; ends with it).</summary>
    public static void EnterHandler() => InHandler.Value = true;

    /// <summary>
    /// Inside a message handler: while the returned scope is open the connection is read whatever the window, since the
    /// broker's answer to the handler's publish or subscribe comes behind the messages queued after the one being
    /// handled. Elsewhere null: the handlers free the window on their own, and a bypass held by, say, a status publish
    /// would stay open until its PUBACK, which a flooding broker sends only after everything it already queued.
    /// </summary>
    public IDisposable? AwaitingBroker()
    {
        if (!InHandler.Value) return null;
        lock (_lock)
        {
            _awaitingBroker++;
            ReleaseWaiterLocked();
        }
        return new Scope(this);
    }

    /// <summary>Completes once fewer than <see cref="Maximum"/> packets are pending, or while we await a broker answer.</summary>
    public Task WaitForRoomAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_pending < Maximum || _awaitingBroker > 0) return Task.CompletedTask;
            _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _room.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>A PUBLISH packet was read from the connection.</summary>
    public void Received()
    {
        lock (_lock)
        {
            _pending++;
            if (_pending > _peak) _peak = _pending;
        }
    }

    /// <summary>A PUBLISH packet left MQTTnet's queue and its handling ended (handled, refused or skipped).</summary>
    public void Handled()
    {
        lock (_lock)
        {
            if (_pending > 0) _pending--;
            if (_pending < Maximum) ReleaseWaiterLocked();
        }
    }

    private void ReleaseWaiterLocked()
    {
        _room?.TrySetResult();
        _room = null;
    }

    private sealed class Scope(ReceiveWindow window) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (window._lock) window._awaitingBroker--;
        }
    }
}

/// <summary>MQTTnet's own adapters, each read through a <see cref="ReceiveWindow"/> (reset per connection).</summary>
internal sealed class ReceiveWindowAdapterFactory(ReceiveWindow window) : IMqttClientAdapterFactory
{
    private readonly MqttClientAdapterFactory _inner = new();

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        window.Reset();
        return new WindowedAdapter(_inner.CreateClientAdapter(options, packetInspector, logger), window);
    }

    private sealed class WindowedAdapter(IMqttChannelAdapter inner, ReceiveWindow window) : IMqttChannelAdapter
    {
        public long BytesReceived => inner.BytesReceived;

        public long BytesSent => inner.BytesSent;

        public X509Certificate2 ClientCertificate => inner.ClientCertificate;

        public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

        public EndPoint LocalEndPoint => inner.LocalEndPoint;

        public bool IsSecureConnection => inner.IsSecureConnection;

        public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

        public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
        {
            // Wait before reading: what the broker sends meanwhile stays in its queue and the socket buffers.
            await window.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
            var packet = await inner.ReceivePacketAsync(cancellationToken).ConfigureAwait(false);
            if (packet is MqttPublishPacket) window.Received();
            return packet;
        }

        public void ResetStatistics() => inner.ResetStatistics();

        public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
