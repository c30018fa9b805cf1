using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>What the aggregator does with each kind of device message.</summary>
/// <param name="Delta">A delta payload, by the device id in its topic.</param>
/// <param name="Telemetry">A telemetry report whose device id matches its topic, with when it arrived.</param>
/// <param name="Status">A retained status payload (empty when cleared), with when it arrived.</param>
internal sealed record FleetHandlers(
    Action<string, byte[]> Delta,
    Action<string, Telemetry, DateTimeOffset> Telemetry,
    Action<string, byte[], DateTimeOffset> Status);

/// <summary>
/// The aggregator's MQTT session: one client named after the instance (its persistent session queues deltas while the
/// instance is down), subscribed to the fleet's deltas (through <c>$share/{group}/…</c> when configured), telemetry and
/// status, each routed to its handler.
/// </summary>
internal sealed partial class FleetInbox : IAsyncDisposable
{
    private readonly AggregatorOptions _options;
    private readonly FleetHandlers _handlers;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public FleetInbox(AggregatorOptions options, FleetHandlers handlers, TimeProvider time, ILogger logger)
    {
        _options = options;
        _handlers = handlers;
        _time = time;
        _logger = logger;
        Client = new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = options.InstanceId,
            Host = options.BrokerHost,
            Port = options.BrokerPort,
            Username = options.Username,
            Password = options.Password,
            Tls = options.LoadTls(),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(5),
        });
        Client.MessageReceived += OnMessageAsync;
        Client.HandlerFailed += (m, ex) => LogHandlerFailed(_logger, ex, m.Topic);
    }

    /// <summary>The client, also used to publish releases and commands.</summary>
    public FleetMqttClient Client { get; }

    /// <summary>Subscribes and connects.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var deltas = FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceDelta);
        await Client.SubscribeAsync(_options.SharedSubscription ? $"$share/{_options.ShareGroup}/{deltas}" : deltas, cancellationToken: cancellationToken).ConfigureAwait(false);
        await Client.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceTelemetry), cancellationToken: cancellationToken).ConfigureAwait(false);
        await Client.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceStatus), cancellationToken: cancellationToken).ConfigureAwait(false);
        await Client.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => Client.DisposeAsync();

    private Task OnMessageAsync(FleetMessage message)
    {
        var topic = FleetTopics.TryParse(message.Topic);
        if (topic is null || topic.Fleet != _options.Fleet || topic.DeviceId is null) return Task.CompletedTask;
        switch (topic.Kind)
        {
            case FleetTopicKind.DeviceDelta:
                _handlers.Delta(topic.DeviceId, message.Payload);
                break;
            case FleetTopicKind.DeviceTelemetry:
                try
                {
                    var t = FleetJson.ReadTelemetry(message.Payload);
                    if (t.DeviceId == topic.DeviceId) _handlers.Telemetry(topic.DeviceId, t, _time.GetUtcNow());
                }
                catch (FleetMessageException ex)
                {
                    LogBadTelemetry(_logger, topic.DeviceId, ex.Message);
                }
                break;
            case FleetTopicKind.DeviceStatus:
                _handlers.Status(topic.DeviceId, message.Payload, _time.GetUtcNow());
                break;
        }
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "Ignoring telemetry from {Device}: {Error}")]
    private static partial void LogBadTelemetry(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 501, Level = LogLevel.Error, Message = "Handling {Topic} failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string topic);
}
