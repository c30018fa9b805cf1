using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// One of the fleet's delta connections: plain MQTTnet (MQTT 5, persistent session), so the publisher sees the PUBACK's
/// reason code. MQTTnet counts "no matching subscribers" (0x10) as success, and so does the fleet client the devices
/// use; here it is not: the broker discarded the delta, so the outbox sends it again.
/// </summary>
internal sealed class DeltaConnection(string clientId, int brokerPort) : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private readonly MqttClientOptions _options = new MqttClientOptionsBuilder()
        .WithProtocolVersion(MqttProtocolVersion.V500)
        .WithClientId(clientId)
        .WithTcpServer("127.0.0.1", brokerPort)
        .WithCleanStart(false)
        .WithSessionExpiryInterval(3600)
        .WithTimeout(TimeSpan.FromSeconds(5))
        .Build();

    /// <summary>Publishes at QoS 1 (connecting first when needed) and returns the broker's PUBACK reason code; throws when the connection fails.</summary>
    public async Task<MqttClientPublishReasonCode> PublishAsync(string topic, byte[] payload, CancellationToken cancellationToken)
    {
        if (!_client.IsConnected)
        {
            await _connecting.WaitAsync(cancellationToken);
            try
            {
                if (!_client.IsConnected) await _client.ConnectAsync(_options, cancellationToken);
            }
            finally
            {
                _connecting.Release();
            }
        }
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
        var result = await _client.PublishAsync(message, cancellationToken);
        return result.ReasonCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try { await _client.DisconnectAsync(); }
            catch (MQTTnet.Exceptions.MqttCommunicationException) { }
        }
        _client.Dispose();
        _connecting.Dispose();
    }
}
