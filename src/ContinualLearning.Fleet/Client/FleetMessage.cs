namespace ContinualLearning.Fleet.Client;

/// <summary>A received MQTT application message, copied out of MQTTnet's buffers.</summary>
/// <remarks><c>UserProperties</c>: the MQTT 5 user properties in the order sent (a WAV clip's <c>label</c> on the samples topic); null when there are none.</remarks>
public sealed record FleetMessage(
    string Topic,
    byte[] Payload,
    bool Retain,
    string? ResponseTopic = null,
    byte[]? CorrelationData = null,
    string? ContentType = null,
    IReadOnlyList<KeyValuePair<string, string>>? UserProperties = null)
{
    /// <summary>
    /// The message's acknowledgement, which a handler may take over (<see cref="FleetAcknowledgement.Defer"/>) to
    /// acknowledge it later; null for a message not received by a <see cref="FleetMqttClient"/>.
    /// </summary>
    public FleetAcknowledgement? Acknowledgement { get; init; }

    /// <summary>The value of the first user property named <paramref name="name"/> (ordinal), or null.</summary>
    public string? UserProperty(string name)
    {
        if (UserProperties is null) return null;
        foreach (var (key, value) in UserProperties)
            if (string.Equals(key, name, StringComparison.Ordinal)) return value;
        return null;
    }
}
