using ContinualLearning.Fleet.Client;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>
/// The client enforces its own MQTT 5 Receive Maximum: the embedded broker (like Mosquitto before 2.0.13) sends QoS 1
/// messages without waiting for acknowledgements, and without the window a slow handler lets them all pile up in
/// MQTTnet's receive queue (the device daemon's audio burst: ~620 WAV clips, 20 MB, at once).
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ReceiveWindowTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private const int Messages = 60;

    [Fact]
    public async Task A_slow_handler_never_has_more_than_receive_maximum_messages_read_ahead()
    {
        var receiver = await FloodAsync(4, (_, _) => Task.Delay(10, TestContext.Current.CancellationToken), new byte[1024]);

        // Counted as read from the socket: without the window the reads outrun the 10 ms handler by dozens.
        Assert.InRange(receiver.ReceiveWindowPeak, 1, 4);
    }

    [Fact]
    public async Task A_handler_that_publishes_while_the_window_is_full_still_gets_its_acknowledgement()
    {
        var replies = $"cl/{Fleet}/window/out";
        // The PUBACK of this publish arrives behind the messages queued after the one being handled.
        var receiver = await FloodAsync(2, (client, m) => client.PublishAsync(replies, m.Payload, FleetQos.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken), [1]);

        Assert.InRange(receiver.ReceiveWindowPeak, 1, Messages);
    }

    /// <summary>Sends <see cref="Messages"/> QoS 1 messages to a receiver with <paramref name="receiveMaximum"/> and waits until it handled them all.</summary>
    private async Task<FleetMqttClient> FloodAsync(ushort receiveMaximum, Func<FleetMqttClient, FleetMessage, Task> handle, byte[] payload)
    {
        var topic = $"cl/{Fleet}/window/in";
        var receiver = Client("receiver", o => o with { ReceiveMaximum = receiveMaximum });
        var handled = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.MessageReceived += async m =>
        {
            await handle(receiver, m);
            if (Interlocked.Increment(ref handled) == Messages) all.TrySetResult();
        };
        await receiver.StartAsync(TestContext.Current.CancellationToken);
        await receiver.SubscribeAsync(topic, FleetQos.AtLeastOnce, TestContext.Current.CancellationToken);
        var sender = Client("sender");
        await sender.StartAsync(TestContext.Current.CancellationToken);

        for (var i = 0; i < Messages; i++)
            await sender.PublishAsync(topic, payload, FleetQos.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken);
        await all.Task.WaitAsync(Patience, TestContext.Current.CancellationToken);
        Assert.Equal(Messages, handled);
        return receiver;
    }
}
