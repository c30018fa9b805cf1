using ContinualLearning.Fleet.Client;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// What the agent's parts need from the broker connection. <see cref="FleetConnection"/> is the MQTT one; tests of a
/// single part use a fake, so no part needs a broker to be tested.
/// </summary>
internal interface IFleetConnection
{
    bool IsConnected { get; }

    /// <summary>
    /// Publishes (see <see cref="FleetMqttClient.PublishAsync"/>); with <paramref name="requireSubscriber"/>, a broker
    /// answer that nobody was subscribed throws <see cref="NoSubscriberException"/> instead of counting as delivered.
    /// </summary>
    Task PublishAsync(string topic, byte[] payload, FleetQos delivery = FleetQos.AtLeastOnce, bool retain = false, bool requireSubscriber = false, CancellationToken cancellationToken = default);

    /// <summary>Subscribes now and again after every reconnect.</summary>
    Task SubscribeAsync(string topicFilter, CancellationToken cancellationToken = default);

    Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default);

    /// <summary>Answers a request on <paramref name="replyTopic"/> (the device's own) with the request's correlation data.</summary>
    Task ReplyAsync(string replyTopic, byte[]? correlationData, byte[] payload, CancellationToken cancellationToken = default);
}

/// <summary>The agent's MQTT connection.</summary>
internal sealed class FleetConnection(FleetMqttClient client) : IFleetConnection
{
    public bool IsConnected => client.IsConnected;

    public Task PublishAsync(string topic, byte[] payload, FleetQos delivery = FleetQos.AtLeastOnce, bool retain = false, bool requireSubscriber = false, CancellationToken cancellationToken = default) =>
        client.PublishAsync(topic, payload, delivery, retain, cancellationToken: cancellationToken, requireSubscriber: requireSubscriber);

    public Task SubscribeAsync(string topicFilter, CancellationToken cancellationToken = default) =>
        client.SubscribeAsync(topicFilter, cancellationToken: cancellationToken);

    public Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken = default) =>
        client.UnsubscribeAsync(topicFilter, cancellationToken);

    public Task ReplyAsync(string replyTopic, byte[]? correlationData, byte[] payload, CancellationToken cancellationToken = default) =>
        client.PublishAsync(replyTopic, payload, FleetQos.AtLeastOnce, retain: false, responseTopic: null, correlationData, "application/json", cancellationToken: cancellationToken);
}
