using System.Text;
using ContinualLearning.Device.Serving;
using MQTTnet;
using MQTTnet.Protocol;

namespace ContinualLearning.UnitTests.Device;

/// <summary>A gateway that publishes MQTT 5 samples with a content type and user properties (MQTTnet directly: the fleet client sends no user properties).</summary>
internal static class SampleGateway
{
    public static async Task<IMqttClient> ConnectAsync(int port)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId("gateway-" + Guid.NewGuid().ToString("N")[..8])
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
        return client;
    }

    /// <summary>A WAV clip, labelled through the <see cref="AudioSample.LabelProperty"/> user property when <paramref name="label"/> is given.</summary>
    public static Task PublishClipAsync(IMqttClient client, string topic, byte[] wav, string? label, string contentType = "audio/wav") =>
        PublishAsync(client, topic, wav, contentType, label is null ? [] : [(AudioSample.LabelProperty, label)]);

    public static async Task PublishAsync(IMqttClient client, string topic, byte[] payload, string? contentType, params (string Name, string Value)[] properties)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (contentType is not null) message.WithContentType(contentType);
        foreach (var (name, value) in properties) message.WithUserProperty(name, new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(value)));
        var result = await client.PublishAsync(message.Build());
        Assert.True(result.IsSuccess, $"publish to {topic}: {result.ReasonCode}");
    }
}
