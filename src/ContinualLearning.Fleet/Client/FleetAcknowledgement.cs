using MQTTnet;

namespace ContinualLearning.Fleet.Client;

/// <summary>
/// The acknowledgement of one received message, which a <see cref="FleetMqttClient.MessageReceived"/> handler may take
/// over with <see cref="Defer"/>: the client then neither acknowledges the message when the handlers return nor counts
/// it as handled, and the handler returns at once, so the next PUBLISH is read while this one waits — e.g. for a batch
/// of messages to be stored in one transaction. The owner ends it exactly once with <see cref="AcknowledgeAsync"/>
/// (stored: the PUBACK goes out) or <see cref="Abandon"/> (not stored: the broker re-sends it after the next reconnect).
/// </summary>
/// <remarks>
/// Without a deferral nothing changes: the message is acknowledged once every handler returned, or on receipt when
/// <see cref="FleetMqttClientOptions.AcknowledgeAfterHandling"/> is false (then <see cref="AcknowledgeAsync"/> sends
/// nothing). A message is settled for the connection it came on: after a reconnect its PUBACK is not sent (the broker
/// re-sends the message on the new connection under the same packet id) and it no longer holds a receive-window slot.
/// </remarks>
public sealed class FleetAcknowledgement
{
    private readonly MqttApplicationMessageReceivedEventArgs _received;
    private readonly InboundMessages _owner;
    private readonly int _connection;
    private int _deferred;
    private int _settled;

    internal FleetAcknowledgement(MqttApplicationMessageReceivedEventArgs received, InboundMessages owner, int connection)
    {
        _received = received;
        _owner = owner;
        _connection = connection;
    }

    /// <summary>Whether a handler took the acknowledgement over.</summary>
    public bool IsDeferred => Volatile.Read(ref _deferred) != 0;

    /// <summary>Whether <see cref="AcknowledgeAsync"/> or <see cref="Abandon"/> ended it.</summary>
    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>
    /// Takes the acknowledgement over; call it in the handler before it returns. From then on the caller alone settles
    /// the message (a later handler failure no longer does), and until it does the message holds its slot of the
    /// client's Receive Maximum.
    /// </summary>
    public void Defer() => Interlocked.Exchange(ref _deferred, 1);

    /// <summary>
    /// Sends the PUBACK (once; later calls do nothing). A connection that dropped meanwhile is not an error: the broker
    /// re-sends the message after the reconnect and the handler sees it again.
    /// </summary>
    /// <param name="cancellationToken">
    /// Bounds the send (a connection whose socket no longer drains); cancelled, the message counts as settled but stays
    /// unacknowledged with the broker, which re-sends it after the next reconnect.
    /// </param>
    public async Task AcknowledgeAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0) return;
        try
        {
            if (_owner.IsCurrent(_connection)) await InboundMessages.AcknowledgeAsync(_received, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _owner.Settled(_connection);
        }
    }

    /// <summary>Ends it without a PUBACK: the broker keeps the message and re-sends it after the next reconnect.</summary>
    public void Abandon()
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0) return;
        _owner.Settled(_connection);
    }
}
