using System.Text;
using ContinualLearning.Audio;
using ContinualLearning.Device;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Serving;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Training;
using ContinualLearning.UnitTests.Audio;
using MQTTnet;
using MQTTnet.Protocol;

namespace ContinualLearning.UnitTests.Device;

/// <summary>WAV clips on the samples topic of a feature model, over the embedded broker: refused, counted, nothing stored; JSON still works.</summary>
public sealed class SamplesTopicWavTests : IAsyncLifetime
{
    private readonly EmbeddedBroker _broker = new();
    private DeviceTestKit _kit = null!;
    private DeviceRuntime _runtime = null!;
    private DeviceAgent _agent = null!;
    private IMqttClient _gateway = null!;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0") };
        _runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        await _runtime.OpenAsync();
        _agent = new DeviceAgent(_runtime, _kit.Key);
        await _agent.StartAsync();
        await _agent.WaitUntilConnectedAsync().WaitAsync(DefaultPatience);
        _gateway = await SampleGateway.ConnectAsync(_broker.Port);
    }

    public async ValueTask DisposeAsync()
    {
        _gateway.Dispose();
        await _agent.DisposeAsync();
        await _runtime.DisposeAsync();
        await _broker.DisposeAsync();
        _kit.Dispose();
    }

    [Fact]
    public async Task A_labelled_clip_to_a_feature_model_is_refused_and_nothing_is_stored()
    {
        var topic = FleetTopics.Samples(_kit.Fleet, _kit.DeviceId);
        await SampleGateway.PublishClipAsync(_gateway, topic, WavWriter.Pcm16Mono(WavBytes.Clip(seed: 3), 16_000), label: "UP");
        // Messages from one client arrive in order: once the JSON sample after it is stored, the clip was handled.
        await SampleGateway.PublishAsync(_gateway, topic, Encoding.UTF8.GetBytes("{\"features\":[1,2,3],\"label\":\"UP\"}"), contentType: null);
        await WaitUntil(() => _runtime.Learner!.Status.StoredSamples == 1);

        Assert.Equal(1, _runtime.Metrics.RequestsRejected);
        Assert.Equal(1, _runtime.Metrics.Labels);
    }
}

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
