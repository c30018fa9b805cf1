using System.Security.Cryptography.X509Certificates;

namespace ContinualLearning.Fleet.Client;

/// <summary>A message the broker publishes for this client when the connection is lost without a clean DISCONNECT.</summary>
public sealed record FleetWill(string Topic, byte[] Payload, bool Retain = true);

/// <summary>A message the client publishes after every (re)connect, e.g. the retained "online" status that overwrites the will.</summary>
public sealed record FleetBirth(string Topic, Func<byte[]> Payload, bool Retain = true);

/// <summary>TLS settings: server validation against a private CA, optional client certificate (mutual TLS).</summary>
public sealed record FleetTlsOptions
{
    /// <summary>Host name expected in the server certificate; defaults to the connection host.</summary>
    public string? TargetHost { get; init; }

    /// <summary>CA certificates that may sign the broker's certificate (a private fleet CA); null uses the system store.</summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; init; }

    /// <summary>Client certificate (with private key) for mutual TLS; Mosquitto can map its CN to the username for ACLs.</summary>
    public X509Certificate2Collection? ClientCertificates { get; init; }

    /// <summary>Development only: accept any server certificate.</summary>
    public bool AllowUntrustedCertificates { get; init; }
}

/// <summary>Connection settings of a <see cref="FleetMqttClient"/>. Immutable; build once and share.</summary>
public sealed record FleetMqttClientOptions
{
    /// <summary>MQTT client id: the device id or "aggregator-…"; it names the persistent session.</summary>
    public required string ClientId { get; init; }

    /// <summary>Broker host name or address.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Broker port (1883 plain, usually 8883 with TLS).</summary>
    public int Port { get; init; } = 1883;

    /// <summary>False (default) keeps the broker-side session across reconnects, so QoS 1 messages sent while we were away are delivered.</summary>
    public bool CleanStart { get; init; }

    /// <summary>How long the broker keeps the session after a disconnect (seconds).</summary>
    public uint SessionExpirySeconds { get; init; } = 24 * 3600;

    /// <summary>MQTT keep-alive: the broker drops the connection (and publishes the will) after 1.5 × this without traffic.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long one connect attempt may take before it counts as failed; also MQTTnet's bound on a subscribe or
    /// unsubscribe called without a cancellable token (publishes: <see cref="PublishTimeout"/>).
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a disconnect (<see cref="FleetMqttClient.StopAsync"/>, <see cref="FleetMqttClient.PauseAsync"/>) may take.
    /// MQTTnet's disconnect waits for the <see cref="FleetMqttClient.MessageReceived"/> handler running at that moment;
    /// one that does not return within this throws a <see cref="TimeoutException"/> saying so instead of holding the stop.
    /// </summary>
    public TimeSpan DisconnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a QoS ≥ 1 publish waits for the broker's PUBACK once sent. Mosquitto before 2.0.13 answers a client's
    /// publish only after everything it queued for that client, which after a backlog took minutes; past this the
    /// publish throws a <see cref="TimeoutException"/> saying so, and the caller's outbox tries again later.
    /// </summary>
    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Username for the broker's password file, or null for none.</summary>
    public string? Username { get; init; }

    /// <summary>Password that goes with <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>Null for plain TCP (loopback / lab); set for anything crossing a network.</summary>
    public FleetTlsOptions? Tls { get; init; }

    /// <summary>Last will the broker publishes if the connection is lost without a clean disconnect, or null for none.</summary>
    public FleetWill? Will { get; init; }

    /// <summary>Message published after every (re)connect, or null for none.</summary>
    public FleetBirth? Birth { get; init; }

    /// <summary>First reconnect delay ceiling; doubles per failed attempt up to <see cref="ReconnectMaxDelay"/>.</summary>
    public TimeSpan ReconnectBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Ceiling of the reconnect delay, however many attempts failed.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// MQTT 5 Receive Maximum: QoS 1/2 messages the broker may have in flight to us before it must wait for our
    /// acknowledgements. 0 leaves it unset (the protocol default is 65,535). Set it where a burst must not pile up in
    /// memory: MQTTnet acknowledges after the handler ran and queues everything received before that, unbounded.
    /// </summary>
    public ushort ReceiveMaximum { get; init; }

    /// <summary>
    /// MQTT 5 Maximum Packet Size, sent in CONNECT: the broker must not send this client a bigger packet (it drops the
    /// message for this client instead), so one oversized publish cannot push itself into our memory. Defaults to
    /// <see cref="FleetLimits.DefaultPacketBytes"/> (control messages); the device sets
    /// <see cref="FleetLimits.DevicePacketBytes"/>, the aggregator <see cref="FleetLimits.AggregatorPacketBytes"/>.
    /// 0 leaves it unset (no limit: the protocol maximum of 256 MiB).
    /// </summary>
    public int MaximumPacketSize { get; init; } = FleetLimits.DefaultPacketBytes;

    /// <summary>
    /// True (default): a QoS 1/2 message is acknowledged only after every <see cref="FleetMqttClient.MessageReceived"/>
    /// handler returned, so a message a handler failed on is re-sent by the broker after the next reconnect of a
    /// persistent session instead of being lost. False acknowledges whatever the handlers do (at most once to the
    /// handlers); it exists so benchmarks can measure what the acknowledgement after handling costs.
    /// </summary>
    public bool AcknowledgeAfterHandling { get; init; } = true;

    /// <summary>
    /// Largest payload accepted on a topic, or null for <see cref="MaximumPacketSize"/> on every topic. A message over
    /// its cap is refused before it is copied or handled (reported through <see cref="FleetMqttClient.PayloadRefused"/>)
    /// and acknowledged, since re-sending it cannot make it fit.
    /// </summary>
    public Func<string, int>? MaxPayloadBytes { get; init; }
}
