using System.Buffers;
using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Packets;

namespace ContinualLearning.Fleet.Client;

/// <summary>
/// What a <see cref="FleetMqttClient"/> does with each PUBLISH it receives. The acknowledgement is manual
/// (<see cref="MqttApplicationMessageReceivedEventArgs.AutoAcknowledge"/> = false) and sent only once every handler
/// returned: a QoS 1 message a handler failed on is left unacknowledged, so the broker re-sends it when a persistent
/// session reconnects instead of it being lost after a PUBACK. A payload over the topic's cap is refused before it is
/// copied or handed to anyone, and acknowledged: it can never become acceptable, and a redelivery would only repeat it.
/// </summary>
/// <remarks>
/// Every message handed here frees its slot of the <see cref="ReceiveWindow"/> (if any) when its handling ends, or, when
/// a handler deferred its acknowledgement (<see cref="FleetAcknowledgement.Defer"/>), when the handler's owner settles it.
/// </remarks>
internal sealed class InboundMessages(FleetMqttClientOptions options, ReceiveWindow? window = null)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<FleetMessage>> _pending = new(StringComparer.Ordinal);
    private volatile bool _paused;
    private int _connection;

    public event Func<FleetMessage, Task>? MessageReceived;

    public event Action<FleetMessage, Exception>? HandlerFailed;

    public event Action<string, long, int>? PayloadRefused;

    /// <summary>While set, messages are neither handled nor acknowledged (the broker keeps them for the next connect).</summary>
    public bool Paused
    {
        get => _paused;
        set => _paused = value;
    }

    /// <summary>Waits for the reply carrying <paramref name="key"/> as its correlation data (hex).</summary>
    public TaskCompletionSource<FleetMessage> ExpectReply(string key)
    {
        var reply = new TaskCompletionSource<FleetMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[key] = reply;
        return reply;
    }

    public void ForgetReply(string key) => _pending.TryRemove(key, out _);

    /// <summary>The connection carrying the messages now was lost: what is still unsettled of it is re-sent on the next one.</summary>
    public void ConnectionLost() => Interlocked.Increment(ref _connection);

    /// <summary>Whether <paramref name="connection"/> is still the one messages arrive on.</summary>
    internal bool IsCurrent(int connection) => Volatile.Read(ref _connection) == connection;

    /// <summary>A deferred message was settled: its slot is free, unless its connection is gone (the window was reset with it).</summary>
    internal void Settled(int connection)
    {
        if (IsCurrent(connection)) window?.Handled();
    }

    public async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var deferred = false;
        try
        {
            // Flows into the handlers (and ends with this call): their publishes may open the window.
            if (window is not null) ReceiveWindow.EnterHandler();
            deferred = await HandleAsync(e).ConfigureAwait(false);
        }
        finally
        {
            if (!deferred) window?.Handled();
        }
    }

    /// <summary>Handles one message; true when a handler deferred its acknowledgement (it frees the slot then).</summary>
    private async Task<bool> HandleAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        if (options.AcknowledgeAfterHandling) e.AutoAcknowledge = false;
        // Paused after a handler failure: whatever MQTTnet still queued stays unacknowledged for the redelivery.
        if (_paused) return false;
        var m = e.ApplicationMessage;
        var cap = options.MaxPayloadBytes?.Invoke(m.Topic) ?? (options.MaximumPacketSize > 0 ? options.MaximumPacketSize : int.MaxValue);
        if (m.Payload.Length > cap)
        {
            PayloadRefused?.Invoke(m.Topic, m.Payload.Length, cap);
            await AcknowledgeAsync(e).ConfigureAwait(false);
            return false;
        }
        var properties = m.UserProperties is { Count: > 0 } p ? p.Select(u => KeyValuePair.Create(u.Name, u.ReadValueAsString())).ToArray() : null;
        var acknowledgement = new FleetAcknowledgement(e, this, Volatile.Read(ref _connection));
        var message = new FleetMessage(m.Topic, m.Payload.ToArray(), m.Retain, m.ResponseTopic, m.CorrelationData, m.ContentType, properties) { Acknowledgement = acknowledgement };
        if (message.CorrelationData is { Length: > 0 } correlation
            && _pending.TryRemove(Convert.ToHexString(correlation), out var waiter))
        {
            waiter.TrySetResult(message);
            await AcknowledgeAsync(e).ConfigureAwait(false);
            return false;
        }
        var handlers = MessageReceived;
        if (handlers is not null)
        {
            foreach (var handler in handlers.GetInvocationList().Cast<Func<FleetMessage, Task>>())
            {
                try
                {
                    await handler(message).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // A deferred message is its owner's to settle; any other stays unacknowledged: the broker still
                    // owns it and re-sends it after the next reconnect.
                    if (acknowledgement.IsDeferred) return true;
                    HandlerFailed?.Invoke(message, ex);
                    return false;
                }
            }
        }
        // Deferred: the handler returned at once, so MQTTnet reads the next PUBLISH while this one waits for its owner.
        if (acknowledgement.IsDeferred) return true;
        await AcknowledgeAsync(e).ConfigureAwait(false);
        return false;
    }

    internal static async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e, CancellationToken cancellationToken = default)
    {
        if (e.AutoAcknowledge) return; // the old path: MQTTnet acknowledges when we return
        try
        {
            await e.AcknowledgeAsync(cancellationToken).ConfigureAwait(false);
        }
        // MQTTnet 5.2 sends a late (deferred) PUBACK through the connection's adapter, which its clean-up sets to null before
        // the Disconnected event reaches us: a dropped connection can also surface as a NullReferenceException there.
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException or NullReferenceException)
        {
            // The connection dropped before the PUBACK went out: the broker re-sends the message and the
            // handler sees it again (QoS 1 is at least once; handlers are idempotent on message ids).
        }
    }
}
