using MQTTnet.Protocol;

namespace ContinualLearning.Fleet.Client;

/// <summary>MQTT delivery guarantee of a publish or subscription (the MQTT QoS levels), without exposing MQTTnet.</summary>
public enum FleetQos
{
    /// <summary>QoS 0: sent once, lost if the connection drops (telemetry that the next report replaces).</summary>
    AtMostOnce = 0,

    /// <summary>QoS 1: acknowledged and re-sent until acknowledged; receivers must tolerate duplicates.</summary>
    AtLeastOnce = 1,

    /// <summary>QoS 2: delivered exactly once, at the cost of a four-packet handshake.</summary>
    ExactlyOnce = 2,
}

/// <summary>Maps <see cref="FleetQos"/> to MQTTnet's type at the one place the client talks to MQTTnet.</summary>
internal static class FleetQosExtensions
{
    public static MqttQualityOfServiceLevel ToMqtt(this FleetQos qos) => qos switch
    {
        FleetQos.AtMostOnce => MqttQualityOfServiceLevel.AtMostOnce,
        FleetQos.AtLeastOnce => MqttQualityOfServiceLevel.AtLeastOnce,
        FleetQos.ExactlyOnce => MqttQualityOfServiceLevel.ExactlyOnce,
        _ => throw new ArgumentOutOfRangeException(nameof(qos), qos, "MQTT knows QoS 0, 1 and 2 only; use a FleetQos member."),
    };
}
