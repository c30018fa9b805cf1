using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// Where the delta publisher hands an encoded delta (CLD1) for the wire. The MQTT one publishes on the device's delta
/// topic; a wrapper may rewrite the payload first (the demo's attacker does), which is why the payload that went out is returned.
/// </summary>
internal interface IDeltaTransport
{
    /// <summary>Publishes at QoS 1; returns after the broker's PUBACK with the payload that was published.</summary>
    Task<byte[]> PublishAsync(byte[] payload, CancellationToken cancellationToken);
}

/// <summary>Publishes deltas on <c>cl/{fleet}/device/{id}/delta</c> at QoS 1.</summary>
internal sealed class MqttDeltaTransport(IFleetConnection connection, string fleet, string deviceId) : IDeltaTransport
{
    private readonly string _topic = FleetTopics.DeltaTopic(fleet, deviceId);

    public async Task<byte[]> PublishAsync(byte[] payload, CancellationToken cancellationToken)
    {
        // QoS 1 re-sends across reconnects. The payload (and so the delta id) is the outbox file's bytes, identical on
        // every attempt: the aggregator drops duplicates. A PUBACK saying nobody was subscribed (a broker that just
        // restarted, before the aggregators' sessions subscribed again) is not a delivery: the delta stays in the outbox.
        await connection.PublishAsync(_topic, payload, FleetQos.AtLeastOnce, cancellationToken: cancellationToken, requireSubscriber: true).ConfigureAwait(false);
        return payload;
    }
}
