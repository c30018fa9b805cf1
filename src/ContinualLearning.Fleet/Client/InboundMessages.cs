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
/// <remarks>Every message handed here frees its slot of the <see cref="ReceiveWindow"/> (if any) when its handling ends.</remarks>
internal sealed class InboundMessages(FleetMqttClientOptions options, ReceiveWindow? window = null)
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<FleetMessage>> _pending = new(StringComparer.Ordinal);
    private volatile bool _paused;

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

    public async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        try
        {
            // Flows into the handlers (and ends with this call): their publishes may open the window.
            if (window is not null) ReceiveWindow.EnterHandler();
            await HandleAsync(e).ConfigureAwait(false);
        }
        finally
        {
            window?.Handled();
        }
    }

    private async Task HandleAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        if (options.AcknowledgeAfterHandling) e.AutoAcknowledge = false;
        // Paused after a handler failure: whatever MQTTnet still queued stays unacknowledged for the redelivery.
        if (_paused) return;
        var m = e.ApplicationMessage;
        var cap = options.MaxPayloadBytes?.Invoke(m.Topic) ?? (options.MaximumPacketSize > 0 ? options.MaximumPacketSize : int.MaxValue);
        if (m.Payload.Length > cap)
        {
            PayloadRefused?.Invoke(m.Topic, m.Payload.Length, cap);
            await AcknowledgeAsync(e).ConfigureAwait(false);
            return;
        }
        var properties = m.UserProperties is { Count: > 0 } p ? p.Select(u => KeyValuePair.Create(u.Name, u.ReadValueAsString())).ToArray() : null;
        var message = new FleetMessage(m.Topic, m.Payload.ToArray(), m.Retain, m.ResponseTopic, m.CorrelationData, m.ContentType, properties);
        if (message.CorrelationData is { Length: > 0 } correlation
            && _pending.TryRemove(Convert.ToHexString(correlation), out var waiter))
        {
            waiter.TrySetResult(message);
            await AcknowledgeAsync(e).ConfigureAwait(false);
            return;
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
                    // Not acknowledged: the broker still owns the message and re-sends it after the next reconnect.
                    HandlerFailed?.Invoke(message, ex);
                    return;
                }
            }
        }
        await AcknowledgeAsync(e).ConfigureAwait(false);
    }

    private static async Task AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        if (e.AutoAcknowledge) return; // the old path: MQTTnet acknowledges when we return
        try
        {
            await e.AcknowledgeAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException)
        {
            // The connection dropped before the PUBACK went out: the broker re-sends the message and the
            // handler sees it again (QoS 1 is at least once; handlers are idempotent on message ids).
        }
    }
}
