using System.Collections.Concurrent;
using ContinualLearning.Fleet.Client;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>
/// A handler that takes a message's acknowledgement over (<see cref="FleetAcknowledgement.Defer"/>) returns at once, so
/// the client reads the next messages while the deferred ones wait; each keeps its Receive Maximum slot until it is
/// acknowledged or abandoned, not until the handler returned.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class DeferredAcknowledgementTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private const ushort Window = 4;
    private const int Messages = 12;

    [Fact]
    public async Task Deferred_messages_hold_their_window_slots_until_settled_and_the_next_ones_are_read_meanwhile()
    {
        var topic = $"cl/{Fleet}/deferred/in";
        var held = new ConcurrentQueue<FleetMessage>();
        var receiver = Client("receiver", o => o with { ReceiveMaximum = Window });
        receiver.MessageReceived += m =>
        {
            m.Acknowledgement!.Defer();
            held.Enqueue(m);
            return Task.CompletedTask;
        };
        await receiver.StartAsync(TestContext.Current.CancellationToken);
        await receiver.SubscribeAsync(topic, FleetQos.AtLeastOnce, TestContext.Current.CancellationToken);
        var sender = Client("sender");
        await sender.StartAsync(TestContext.Current.CancellationToken);
        for (var i = 0; i < Messages; i++)
            await sender.PublishAsync(topic, [(byte)i], FleetQos.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken);

        // Four handed over without any acknowledgement: the handler returning did not free their slots.
        await WaitUntil(() => held.Count == Window);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(Window, held.Count);

        // Acknowledging two and abandoning two frees four slots: four more are read.
        var first = held.ToArray();
        await first[0].Acknowledgement!.AcknowledgeAsync();
        await first[1].Acknowledgement!.AcknowledgeAsync();
        first[2].Acknowledgement!.Abandon();
        first[3].Acknowledgement!.Abandon();
        await WaitUntil(() => held.Count == 2 * Window);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(2 * Window, held.Count);
        Assert.Equal(Enumerable.Range(0, 2 * Window).Select(i => (byte)i), held.Select(m => m.Payload[0]));

        // Settling twice changes nothing (the second acknowledgement would be a protocol error).
        await first[0].Acknowledgement!.AcknowledgeAsync();
        first[0].Acknowledgement!.Abandon();
        foreach (var m in held.Skip(Window)) await m.Acknowledgement!.AcknowledgeAsync();
        await WaitUntil(() => held.Count == Messages);
        Assert.InRange(receiver.ReceiveWindowPeak, 1, Window);
    }

    [Fact]
    public async Task A_message_no_handler_defers_is_acknowledged_after_the_handlers_as_before()
    {
        var topic = $"cl/{Fleet}/deferred/plain";
        var seen = new ConcurrentQueue<FleetMessage>();
        var receiver = Client("receiver", o => o with { ReceiveMaximum = 2 });
        receiver.MessageReceived += m =>
        {
            seen.Enqueue(m);
            return Task.CompletedTask;
        };
        await receiver.StartAsync(TestContext.Current.CancellationToken);
        await receiver.SubscribeAsync(topic, FleetQos.AtLeastOnce, TestContext.Current.CancellationToken);
        var sender = Client("sender");
        await sender.StartAsync(TestContext.Current.CancellationToken);
        for (var i = 0; i < Messages; i++)
            await sender.PublishAsync(topic, [(byte)i], FleetQos.AtLeastOnce, cancellationToken: TestContext.Current.CancellationToken);

        // With a window of 2 and nothing deferred, every message still gets through: each frees its slot when handled.
        await WaitUntil(() => seen.Count == Messages);
        Assert.All(seen, m => Assert.False(m.Acknowledgement!.IsDeferred));
    }
}
