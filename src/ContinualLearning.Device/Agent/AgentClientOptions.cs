using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Device.Agent;

/// <summary>The device's MQTT client settings: identity, broker, TLS, the offline last will and the online birth status.</summary>
internal static class AgentClientOptions
{
    /// <param name="options">The device configuration (broker, TLS, ids).</param>
    /// <param name="birthStatus">The retained online status, built at every (re)connect.</param>
    public static FleetMqttClientOptions Build(DeviceOptions options, Func<byte[]> birthStatus)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(birthStatus);
        var status = FleetTopics.Status(options.Fleet, options.DeviceId);
        return new FleetMqttClientOptions
        {
            ClientId = options.DeviceId,
            Host = options.Broker.Host,
            Port = options.Broker.Port,
            Username = options.Broker.Username,
            Password = options.Broker.Password,
            Tls = options.Broker.LoadTls(),
            Will = new FleetWill(status, FleetJson.Serialize(DeviceStatus.Offline(options.DeviceId) with { Cohort = options.Cohort })),
            Birth = new FleetBirth(status, birthStatus),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(200),
            ReconnectMaxDelay = TimeSpan.FromSeconds(30),
            // Backpressure for sample bursts: without it the broker pushes a whole backlog (12,000 samples: ~35 MB of
            // MQTTnet packets) at once and it waits in memory for the sample handler. 32 keeps the pipe full.
            ReceiveMaximum = 32,
            // The broker must not push a bigger packet, and a payload over its topic's cap is refused before it is copied.
            MaximumPacketSize = InboundGuard.PacketBytes(options.Limits),
            MaxPayloadBytes = topic => InboundGuard.CapFor(options.Limits, topic),
        };
    }
}
