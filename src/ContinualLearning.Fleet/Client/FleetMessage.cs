namespace ContinualLearning.Fleet.Client;

/// <summary>A received MQTT application message, copied out of MQTTnet's buffers.</summary>
public sealed record FleetMessage(
    string Topic,
    byte[] Payload,
    bool Retain,
    string? ResponseTopic = null,
    byte[]? CorrelationData = null,
    string? ContentType = null);
