using System.Text;
using System.Threading.Channels;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Fleet;

[Collection(BrokerCollection.Name)]
public class FleetClientTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private static Channel<FleetMessage> Inbox(FleetMqttClient client)
    {
        var inbox = Channel.CreateUnbounded<FleetMessage>();
        client.MessageReceived += m => inbox.Writer.WriteAsync(m).AsTask();
        return inbox;
    }

    private static async Task<FleetMessage> NextAsync(Channel<FleetMessage> inbox, Func<FleetMessage, bool> match)
    {
        using var cts = new CancellationTokenSource(Patience);
        while (true)
        {
            var m = await inbox.Reader.ReadAsync(cts.Token);
            if (match(m)) return m;
        }
    }

    [Fact]
    public async Task A_delta_that_reaches_no_subscriber_is_not_reported_delivered_and_goes_through_once_one_subscribes()
    {
        // A broker just restarted, before the aggregators subscribed again, answers 0x10 "no matching subscribers",
        // which MQTTnet counts as success: a device must not drop its delta on that answer.
        var topic = FleetTopics.DeltaTopic(Fleet, "dev-nosub");
        var device = Client("dev-nosub");
        await device.StartAsync();

        await Assert.ThrowsAsync<NoSubscriberException>(() => device.PublishAsync(topic, [1, 2, 3], requireSubscriber: true));
        await device.PublishAsync(topic, [1, 2, 3]); // without the flag (status, telemetry) the answer is accepted as before

        var aggregator = Client("agg-nosub");
        var inbox = Inbox(aggregator);
        await aggregator.StartAsync();
        await aggregator.SubscribeAsync(FleetTopics.AllDevices(Fleet, FleetTopicKind.DeviceDelta));
        await device.PublishAsync(topic, [4, 5, 6], requireSubscriber: true);
        Assert.Equal(new byte[] { 4, 5, 6 }, (await NextAsync(inbox, m => m.Topic == topic)).Payload);
    }

    [Fact]
    public async Task Last_will_publishes_retained_offline_status_on_abrupt_disconnect()
    {
        var statusTopic = FleetTopics.Status(Fleet, "dev1");
        var device = Client("dev1", o => o with
        {
            Will = new FleetWill(statusTopic, FleetJson.Serialize(DeviceStatus.Offline("dev1"))),
            Birth = new FleetBirth(statusTopic, () => FleetJson.Serialize(new DeviceStatus { DeviceId = "dev1", State = DeviceState.Online, ModelVersion = "1.3.0" })),
        });
        var observer = Client("observer");
        var inbox = Inbox(observer);
        await observer.StartAsync();
        await observer.SubscribeAsync(FleetTopics.AllDevices(Fleet, FleetTopicKind.DeviceStatus));

        await device.StartAsync();
        var online = FleetJson.ReadStatus((await NextAsync(inbox, m => m.Topic == statusTopic)).Payload);
        Assert.Equal(DeviceState.Online, online.State);
        Assert.Equal("1.3.0", online.ModelVersion);

        await device.AbortAsync();
        var offline = await NextAsync(inbox, m => m.Topic == statusTopic);
        Assert.Equal(DeviceState.Offline, FleetJson.ReadStatus(offline.Payload).State);

        // Retained: someone who subscribes later still learns the device is offline.
        var late = Client("late");
        var lateInbox = Inbox(late);
        await late.StartAsync();
        await late.SubscribeAsync(statusTopic);
        var retained = await NextAsync(lateInbox, m => m.Topic == statusTopic);
        Assert.True(retained.Retain);
        Assert.Equal(DeviceState.Offline, FleetJson.ReadStatus(retained.Payload).State);
    }

    [Fact]
    public async Task Clean_stop_does_not_publish_the_will()
    {
        var statusTopic = FleetTopics.Status(Fleet, "dev2");
        var device = Client("dev2", o => o with
        {
            Will = new FleetWill(statusTopic, FleetJson.Serialize(DeviceStatus.Offline("dev2"))),
            Birth = new FleetBirth(statusTopic, () => FleetJson.Serialize(new DeviceStatus { DeviceId = "dev2", State = DeviceState.Online })),
        });
        await device.StartAsync();
        await device.StopAsync();

        var late = Client("late");
        var inbox = Inbox(late);
        await late.StartAsync();
        await late.SubscribeAsync(statusTopic);
        var retained = await NextAsync(inbox, m => m.Topic == statusTopic);
        Assert.Equal(DeviceState.Online, FleetJson.ReadStatus(retained.Payload).State);
    }

    [Fact]
    public async Task Command_request_reply_round_trip_matches_correlation()
    {
        var device = Client("dev3");
        var cmdTopic = FleetTopics.Command(Fleet, "dev3");
        device.MessageReceived += async m =>
        {
            if (m.Topic != cmdTopic) return;
            var command = FleetJson.ReadCommand(m.Payload);
            var reply = new CommandReply
            {
                CommandId = command.CommandId,
                DeviceId = "dev3",
                Ok = command.Kind == CommandKind.TrainNow,
                Message = $"did {command.Kind} with epochs={command.Args?["epochs"]}",
            };
            await device.ReplyAsync(m, FleetJson.Serialize(reply));
        };
        await device.StartAsync();
        await device.SubscribeAsync(cmdTopic);

        var aggregator = Client("agg");
        await aggregator.StartAsync();
        var replyTopic = FleetTopics.CommandReply(Fleet, "dev3");
        for (var i = 0; i < 3; i++)
        {
            var command = new Command { CommandId = $"c{i}", Kind = CommandKind.TrainNow, Args = new Dictionary<string, string> { ["epochs"] = $"{i + 1}" } };
            var response = await aggregator.RequestAsync(cmdTopic, FleetJson.Serialize(command), replyTopic, Patience);
            var reply = FleetJson.ReadCommandReply(response.Payload);
            Assert.Equal($"c{i}", reply.CommandId);
            Assert.True(reply.Ok);
            Assert.Equal($"did TrainNow with epochs={i + 1}", reply.Message);
        }
    }

    [Fact]
    public async Task Request_without_a_responder_times_out_with_a_clear_message()
    {
        var aggregator = Client("agg2");
        await aggregator.StartAsync();
        var ex = await Assert.ThrowsAsync<TimeoutException>(() =>
            aggregator.RequestAsync(FleetTopics.Command(Fleet, "nobody"), "{}"u8.ToArray(), FleetTopics.CommandReply(Fleet, "nobody"), TimeSpan.FromMilliseconds(300)));
        Assert.Contains("nobody", ex.Message);
    }
}

/// <summary>Uses its own broker because it restarts it.</summary>
public class FleetReconnectTests
{
    [Fact]
    public async Task Client_reconnects_after_broker_restart_and_resubscribes()
    {
        await using var broker = new EmbeddedBroker();
        await broker.StartAsync();
        var options = new FleetMqttClientOptions
        {
            ClientId = "device-r",
            Port = broker.Port,
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(300),
        };
        await using var device = new FleetMqttClient(options);
        var inbox = Channel.CreateUnbounded<FleetMessage>();
        device.MessageReceived += m => inbox.Writer.WriteAsync(m).AsTask();
        var failures = 0;
        device.ConnectFailed += (_, _) => Interlocked.Increment(ref failures);
        await device.StartAsync();
        var topic = FleetTopics.Command("f", "device-r");
        await device.SubscribeAsync(topic);

        await broker.StopAsync();
        // Let the client notice and fail at least once against the dead port, exercising the backoff loop.
        await WaitUntil(() => Volatile.Read(ref failures) > 0, "a failed reconnect against the stopped broker");
        Assert.False(device.IsConnected);

        // The embedded broker keeps sessions in memory, so after a restart only a re-subscribe brings messages back.
        await broker.StartAsync();
        await WaitUntil(() => device.ConnectCount, n => n >= 2, "the client reconnected after the broker restart (observed: connect count)");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await using var sender = new FleetMqttClient(options with { ClientId = "sender-r" });
        await sender.StartAsync(cts.Token);
        await sender.PublishAsync(topic, Encoding.UTF8.GetBytes("after-restart"), cancellationToken: cts.Token);
        var received = await inbox.Reader.ReadAsync(cts.Token);
        Assert.Equal("after-restart", Encoding.UTF8.GetString(received.Payload));
        Assert.Empty(broker.Errors);
    }

    [Fact]
    public void Backoff_is_full_jitter_below_an_exponential_cap()
    {
        var rng = new Random(1);
        var baseDelay = TimeSpan.FromMilliseconds(100);
        var max = TimeSpan.FromSeconds(5);
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var ceiling = Math.Min(max.TotalMilliseconds, 100 * Math.Pow(2, Math.Min(attempt, 30)));
            var samples = Enumerable.Range(0, 200).Select(_ => ReconnectBackoff.Delay(attempt, baseDelay, max, rng).TotalMilliseconds).ToArray();
            Assert.All(samples, s => Assert.InRange(s, 0, ceiling));
            // Full jitter: spread over the whole range, not clustered at the ceiling.
            Assert.True(samples.Min() < ceiling * 0.2 && samples.Max() > ceiling * 0.8, $"attempt {attempt}: {samples.Min()}..{samples.Max()} of {ceiling}");
        }
    }
}
