using MQTTnet;
using MQTTnet.Exceptions;

namespace ContinualLearning.Fleet.Client;

/// <summary>Subscribing, publishing, request/response and pausing the inbound flow (the lifecycle is in FleetMqttClient.cs).</summary>
public sealed partial class FleetMqttClient
{
    /// <summary>Subscribes now (when connected) and after every reconnect.</summary>
    public async Task SubscribeAsync(string topicFilter, FleetQos qos = FleetQos.AtLeastOnce, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        _subscriptions[topicFilter] = qos;
        if (!_client.IsConnected) return; // the connect loop subscribes everything it knows
        try
        {
            await SubscribeCoreAsync(topicFilter, qos, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MqttCommunicationException or MqttClientNotConnectedException)
        {
            // Lost the connection meanwhile; the reconnect re-subscribes.
        }
    }

    /// <summary>Unsubscribes now (when connected) and stops re-subscribing after reconnects.</summary>
    /// <exception cref="FleetConnectionException">The connection dropped during the unsubscribe; the reconnect will not subscribe again.</exception>
    public async Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default)
    {
        _subscriptions.TryRemove(topicFilter, out _);
        if (!_client.IsConnected) return;
        try
        {
            await _client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(topicFilter).Build(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            throw ConnectionLost($"unsubscribing from '{topicFilter}'", ex);
        }
    }

    /// <summary>
    /// Publishes, waiting for a connection first. At QoS ≥ 1 a publish interrupted by a disconnect is retried after the
    /// reconnect until <paramref name="cancellationToken"/> fires (at-least-once: receivers must tolerate duplicates).
    /// </summary>
    /// <exception cref="FleetConnectionException">A QoS 0 publish lost its connection; it is not retried.</exception>
    /// <exception cref="InvalidOperationException">The broker refused the publish (ACL).</exception>
    /// <exception cref="TimeoutException">
    /// QoS ≥ 1 and no PUBACK within <see cref="FleetMqttClientOptions.PublishTimeout"/> of sending, on a connection that is
    /// still up (the message may still arrive: a later try may be a duplicate).
    /// </exception>
    /// <exception cref="NoSubscriberException">
    /// <paramref name="requireSubscriber"/> is set and the broker answered "no matching subscribers" (0x10), which MQTTnet
    /// counts as a success: the message went nowhere. Deltas need it — right after a broker restart, before the
    /// aggregators have subscribed again, a delta would otherwise be dropped while the device thinks it delivered.
    /// </exception>
    public async Task PublishAsync(
        string topic,
        byte[] payload,
        FleetQos qos = FleetQos.AtLeastOnce,
        bool retain = false,
        string? responseTopic = null,
        byte[]? correlationData = null,
        string? contentType = null,
        bool requireSubscriber = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(payload);
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos.ToMqtt())
            .WithRetainFlag(retain);
        if (responseTopic is not null) builder.WithResponseTopic(responseTopic);
        if (correlationData is not null) builder.WithCorrelationData(correlationData);
        if (contentType is not null) builder.WithContentType(contentType);
        var message = builder.Build();

        while (true)
        {
            await WaitUntilConnectedAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                using var awaiting = _window?.AwaitingBroker();
                // MQTTnet bounds subscribes and pings by its own timeout but waits for a PUBACK until the token fires. Mosquitto
                // before 2.0.13 answers a publish only after everything it queued for this client (minutes after a backlog).
                using var answer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (qos != FleetQos.AtMostOnce) answer.CancelAfter(_options.PublishTimeout);
                MqttClientPublishResult result;
                try
                {
                    result = await _client.PublishAsync(message, answer.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or MqttCommunicationTimedOutException
                                           && answer.IsCancellationRequested && !cancellationToken.IsCancellationRequested && _client.IsConnected)
                {
                    // On a connection still up, sending again (a new packet id each time) would only repeat the wait.
                    throw new TimeoutException(
                        $"The broker did not acknowledge the publish to '{topic}' within {_options.PublishTimeout.TotalSeconds:0.#} s (PublishTimeout) although client '{ClientId}' is connected; "
                        + "not retried here. A broker busy with a backlog for this client answers late; the message may still arrive, so a later try may be a duplicate.", ex);
                }
                if (requireSubscriber && result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers)
                    throw new NoSubscriberException($"Nobody is subscribed to '{topic}' yet (the broker answered 0x10 no matching subscribers, e.g. just after it restarted): not delivered, try again later.");
                if (!result.IsSuccess)
                    throw new InvalidOperationException($"The broker refused the publish to '{topic}': {result.ReasonCode} {result.ReasonString} (check the broker ACL for client '{ClientId}').");
                return;
            }
            catch (Exception ex) when (IsConnectionLoss(ex))
            {
                if (qos == FleetQos.AtMostOnce)
                    throw ConnectionLost($"publishing to '{topic}' at QoS 0 (not retried)", ex);
                // Connection dropped mid-publish: wait for the reconnect and send again.
            }
        }
    }

    /// <summary>
    /// Sends a request with an MQTT 5 response topic and fresh correlation data, and returns the first reply that carries
    /// the same correlation data. Subscribes to <paramref name="responseTopic"/> on first use.
    /// </summary>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/>.</exception>
    public async Task<FleetMessage> RequestAsync(string topic, byte[] payload, string responseTopic, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(responseTopic);
        if (!_subscriptions.ContainsKey(responseTopic))
        {
            await WaitUntilConnectedAsync(cancellationToken).ConfigureAwait(false);
            await SubscribeAsync(responseTopic, FleetQos.AtLeastOnce, cancellationToken).ConfigureAwait(false);
        }
        var correlation = Guid.NewGuid().ToByteArray();
        var key = Convert.ToHexString(correlation);
        var reply = _inbound.ExpectReply(key);
        try
        {
            await PublishAsync(topic, payload, FleetQos.AtLeastOnce, retain: false, responseTopic, correlation, "application/json", cancellationToken: cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No reply on '{responseTopic}' within {timeout.TotalSeconds:0.#} s to the request sent to '{topic}'; the device may be offline (its status topic says) or busy.");
        }
        finally
        {
            _inbound.ForgetReply(key);
        }
    }

    /// <summary>Answers a request received with a response topic, echoing its correlation data.</summary>
    public Task ReplyAsync(FleetMessage request, byte[] payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrEmpty(request.ResponseTopic))
            throw new InvalidOperationException($"The message on '{request.Topic}' has no response topic; the sender did not ask for a reply.");
        return PublishAsync(request.ResponseTopic, payload, FleetQos.AtLeastOnce, retain: false, responseTopic: null, request.CorrelationData, "application/json", cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Stops consuming: nothing more is handled or acknowledged, and the client disconnects (cleanly, without the will)
    /// and stays away until <see cref="Resume"/>. The broker keeps every unacknowledged QoS 1/2 message in the persistent
    /// session and re-sends it on the next connect. Safe to call from a <see cref="MessageReceived"/> handler, which must
    /// not await the returned task: the disconnect waits for the handler to return.
    /// </summary>
    /// <returns>The disconnect; it faults with <see cref="TimeoutException"/> when a handler held it past <see cref="FleetMqttClientOptions.DisconnectTimeout"/> (the client stays paused).</returns>
    public Task PauseAsync()
    {
        if (_inbound.Paused) return Task.CompletedTask;
        _inbound.Paused = true;
        // MQTTnet's disconnect waits for its message-processing task, which is the one running our handlers: run it
        // on another task so a handler can pause without waiting on itself.
        return Task.Run(() => DisconnectAsync(MqttClientDisconnectOptionsReason.NormalDisconnection));
    }

    /// <summary>Ends a <see cref="PauseAsync"/>: the client reconnects and the broker re-sends what was left unacknowledged.</summary>
    public void Resume()
    {
        if (!_inbound.Paused) return;
        _inbound.Paused = false;
        _resumed.Release();
    }
}
