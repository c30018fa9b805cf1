using System.Collections.Concurrent;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Fleet;
using ContinualLearning.Fleet.Topics;
using MQTTnet.Server;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 11, attacks 5 and 6 at the client and the aggregator: nothing is acknowledged before it is stored, and a
/// payload over its topic's cap is refused before it is copied or decoded. On the embedded broker, which re-sends
/// unacknowledged QoS 1 messages when a persistent session reconnects (the 300-delta disk-full run is against
/// Mosquitto in ContinualLearning.Tests).
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class InboxAttackTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task Attack_handler_failure_is_not_acknowledged_and_the_broker_redelivers_after_reconnect()
    {
        var server = Fixture.Broker.Server!;
        var receiverId = $"{Fleet}-receiver";
        var acks = 0;
        Task OnAck(ClientAcknowledgedPublishPacketEventArgs e)
        {
            if (e.ClientId == receiverId) Interlocked.Increment(ref acks);
            return Task.CompletedTask;
        }
        server.ClientAcknowledgedPublishPacketAsync += OnAck;
        try
        {
            var receiver = Client("receiver");
            var storageWorks = false;
            var stored = new ConcurrentDictionary<string, int>();
            receiver.MessageReceived += m =>
            {
                // The "registry" is down until the test repairs it.
                if (!Volatile.Read(ref storageWorks)) throw new IOException("No space left on device");
                stored.AddOrUpdate(m.Topic, 1, (_, n) => n + 1);
                return Task.CompletedTask;
            };
            var failures = 0;
            receiver.HandlerFailed += (_, _) =>
            {
                Interlocked.Increment(ref failures);
                _ = receiver.PauseAsync();
            };
            var topic = FleetTopics.DeltaTopic(Fleet, "d1") + "/";
            await receiver.StartAsync();
            await receiver.SubscribeAsync(topic + "#");
            var publisher = Client("publisher");
            await publisher.StartAsync();
            for (var i = 0; i < 5; i++) await publisher.PublishAsync(topic + i, [(byte)i]);

            await WaitUntil(() => Volatile.Read(ref failures) >= 1 && receiver.IsPaused && !receiver.IsConnected);
            Assert.Equal(0, Volatile.Read(ref acks));
            Assert.Empty(stored);

            Volatile.Write(ref storageWorks, true);
            receiver.Resume();
            await WaitUntil(() => stored.Count == 5, "all five messages handled after the reconnect");
            await WaitUntil(() => Volatile.Read(ref acks) >= 5, "the broker got a PUBACK for each once it was handled");
        }
        finally
        {
            server.ClientAcknowledgedPublishPacketAsync -= OnAck;
        }
    }

    [Fact]
    public async Task Attack_oversized_delta_is_refused_before_decoding_and_counted()
    {
        await using var service = new AggregatorService(_kit.Options(Fixture.Broker.Port, Fleet));
        await service.StartAsync();
        var cap = FleetLimits.MaxDeltaPayloadBytes(_kit.Head.Parameters().Sum(p => (long)p.Shape.Aggregate(1, (a, b) => a * b)), _kit.Head.Parameters().Count());
        var device = Client("mallory");
        await device.StartAsync();

        // Scaled down from 200 MB: over the head-derived cap is what matters, and the embedded broker (unlike
        // Mosquitto) ignores the aggregator's maximum packet size, so the refusal is the aggregator's own.
        var huge = new byte[4 * 1024 * 1024];
        _kit.EncodeDelta("mallory").CopyTo(huge, 0);
        await device.PublishAsync(FleetTopics.DeltaTopic(Fleet, "mallory"), huge);
        await WaitUntil(() => service.Counters.Oversized == 1);

        // Never decoded (a decode would have been a malformed rejection) and nothing stored.
        Assert.Equal(0, service.Counters.TotalRejected);
        Assert.Equal(0, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        Assert.True(cap < huge.Length, $"the cap {cap} must be below the attack's {huge.Length} bytes");

        // The inbox keeps serving honest deltas.
        await device.PublishAsync(FleetTopics.DeltaTopic(Fleet, "mallory"), _kit.EncodeDelta("mallory"));
        await WaitUntil(() => service.Counters.Accepted == 1);
        Assert.Equal(1, service.Counters.Oversized);
    }

    [Fact]
    public async Task Every_client_announces_its_maximum_packet_size_in_CONNECT()
    {
        var server = Fixture.Broker.Server!;
        var announced = new ConcurrentDictionary<string, uint>();
        Task OnConnect(ValidatingConnectionEventArgs e)
        {
            announced[e.ClientId] = e.MaximumPacketSize;
            return Task.CompletedTask;
        }
        server.ValidatingConnectionAsync += OnConnect;
        try
        {
            var options = _kit.Options(Fixture.Broker.Port, Fleet);
            await using var service = new AggregatorService(options);
            await service.StartAsync();
            var plain = Client("cli");
            await plain.StartAsync();

            var cap = FleetLimits.MaxDeltaPayloadBytes(_kit.Head.Parameters().Sum(p => (long)p.Shape.Aggregate(1, (a, b) => a * b)), _kit.Head.Parameters().Count());
            Assert.Equal((uint)FleetLimits.AggregatorPacketBytes(cap), announced[options.InstanceId]);
            Assert.Equal((uint)FleetLimits.DefaultPacketBytes, announced[$"{Fleet}-cli"]);
        }
        finally
        {
            server.ValidatingConnectionAsync -= OnConnect;
        }
    }

    [Fact]
    public async Task Attack_garbage_flood_from_one_device_stores_and_logs_a_bounded_number_of_rejections()
    {
        var log = new RecordingLogger<AggregatorService>();
        await using var service = new AggregatorService(_kit.Options(Fixture.Broker.Port, Fleet), log);
        await service.StartAsync();
        var burst = service.Options.Retention.RejectionBurst;

        for (var i = 0; i < 1000; i++) service.Receive("mallory", [0x43, 0x4c, (byte)i]);

        // Every one counted; only the burst stored and logged one by one; the rest summed into one line.
        Assert.Equal(1000, service.Counters.Rejected(RejectionReason.Malformed));
        Assert.Equal(1000 - burst, service.Counters.Suppressed);
        Assert.Equal(burst, service.Registry.Rejections.Count());
        Assert.Equal(burst, log.Entries.Count(e => e.Message.StartsWith("Rejected (malformed)", StringComparison.Ordinal)));
        // The service loop writes the summary on its next tick (possibly in two lines if a tick fell inside the flood).
        await WaitUntil(() => log.Entries.Where(e => e.Message.Contains(" more rejections suppressed", StringComparison.Ordinal))
            .Sum(e => int.Parse(e.Message.AsSpan(0, e.Message.IndexOf(' ', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture)) == 1000 - burst);

        // Another device still gets its rejections written down.
        Assert.Equal(RejectionReason.Malformed, service.Receive("d2", [1, 2, 3]).Reason);
        Assert.Equal(burst + 1, service.Registry.Rejections.Count());
    }
}
