namespace ContinualLearning.Fleet.Client;

/// <summary>
/// The connection to the broker was lost (or not there) while a <see cref="FleetMqttClient"/> operation was on the wire
/// and the operation was not retried: a QoS 0 publish, or an unsubscribe. The MQTTnet exception is the InnerException.
/// Derives from <see cref="InvalidOperationException"/> because the client was not in a connected state for the call.
/// </summary>
public sealed class FleetConnectionException : InvalidOperationException
{
    /// <summary>Creates the exception with a message naming the broker, the client and the operation.</summary>
    public FleetConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a message naming the broker, the client and the operation.</summary>
    public FleetConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the default message.</summary>
    public FleetConnectionException()
    {
    }
}
