using System.Text;
using System.Threading.Channels;
using ContinualLearning.Fleet.Client;
using MQTTnet.Protocol;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>Our QoS enum maps one to one onto MQTT's levels, and every level travels end to end through a broker.</summary>
[Collection(BrokerCollection.Name)]
public sealed class FleetQosTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    [Theory]
    [InlineData(FleetQos.AtMostOnce, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(FleetQos.AtLeastOnce, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(FleetQos.ExactlyOnce, MqttQualityOfServiceLevel.ExactlyOnce)]
    public void Maps_to_the_same_MQTT_level(FleetQos qos, MqttQualityOfServiceLevel expected) => Assert.Equal(expected, qos.ToMqtt());

    [Fact]
    public void Unknown_value_is_rejected_with_the_value()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ((FleetQos)3).ToMqtt());
        Assert.Equal(3, (int)(FleetQos)ex.ActualValue!);
    }

    [Theory]
    [InlineData(FleetQos.AtMostOnce)]
    [InlineData(FleetQos.AtLeastOnce)]
    [InlineData(FleetQos.ExactlyOnce)]
    public async Task A_message_published_and_subscribed_at_each_level_arrives(FleetQos qos)
    {
        var topic = $"cl/{Fleet}/qos/{qos}";
        var receiver = Client("receiver");
        var inbox = Channel.CreateUnbounded<FleetMessage>();
        receiver.MessageReceived += m => inbox.Writer.WriteAsync(m).AsTask();
        await receiver.StartAsync();
        await receiver.SubscribeAsync(topic, qos);
        var sender = Client("sender");
        await sender.StartAsync();

        await sender.PublishAsync(topic, Encoding.UTF8.GetBytes("hello"), qos);

        using var cts = new CancellationTokenSource(Patience);
        var received = await inbox.Reader.ReadAsync(cts.Token);
        Assert.Equal(topic, received.Topic);
        Assert.Equal("hello", Encoding.UTF8.GetString(received.Payload));
    }
}
