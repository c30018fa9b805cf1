using System.Collections.Concurrent;
using ContinualLearning.Aggregator.Inbox;
using ContinualLearning.Fleet.Client;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Packets;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The group commit's writer: a batch is acknowledged only after its store returned, in arrival order; a failed store
/// acknowledges nothing; batches stay within the bound; a lone delta waits the linger and no longer.
/// </summary>
public sealed class DeltaBatcherTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>Bounds every enqueue: a queue nobody reads must fail the test, not hang it.</summary>
    private readonly CancellationTokenSource _patience = new(Patience);

    /// <summary>What happened, in order: "store:3" for a stored batch of 3, "ack:d7" for the acknowledgement of message d7.</summary>
    private readonly ConcurrentQueue<string> _events = new();
    private readonly InboundMessages _inbound = new(new FleetMqttClientOptions { ClientId = "agg" });

    [Fact]
    public async Task A_batch_is_acknowledged_after_its_store_in_arrival_order()
    {
        using var gate = new SemaphoreSlim(0);
        var batcher = new DeltaBatcher(4, TimeSpan.FromMilliseconds(50), batch =>
        {
            gate.Wait(Patience);
            _events.Enqueue($"store:{batch.Count}");
        }, (_, ex) => throw new InvalidOperationException("no failure expected", ex), TimeProvider.System);
        await using (batcher)
        {
            for (var i = 0; i < 8; i++) await batcher.EnqueueAsync(Queued($"d{i}"), _patience.Token);
            await Task.Delay(100, TestContext.Current.CancellationToken);
            Assert.Empty(_events); // the store has not returned: nothing is acknowledged
            gate.Release(2);
            await Polling.WaitUntil(() => _events.Count == 10);
        }

        // Acknowledged in arrival order, each after the commit of its own batch (the next batch may be stored meanwhile).
        var events = _events.ToList();
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"ack:d{i}"), events.Where(e => e.StartsWith("ack:", StringComparison.Ordinal)));
        var stores = events.Select((e, i) => (e, i)).Where(x => x.e == "store:4").Select(x => x.i).ToArray();
        Assert.Equal(2, stores.Length);
        Assert.All(Enumerable.Range(0, 8), i => Assert.True(events.IndexOf($"ack:d{i}") > stores[i / 4], $"d{i} acknowledged before its batch was stored"));
    }

    [Fact]
    public async Task A_failed_store_acknowledges_nothing_of_its_batch_and_reports_the_failure()
    {
        var failures = new ConcurrentQueue<(string Topic, Exception Error)>();
        var attempts = 0;
        var acks = new List<FleetAcknowledgement>();
        var batcher = new DeltaBatcher(3, TimeSpan.FromMilliseconds(20), batch =>
        {
            if (Interlocked.Increment(ref attempts) == 1) throw new IOException("disk full");
            _events.Enqueue($"store:{batch.Count}");
        }, (topic, error) => failures.Enqueue((topic, error)), TimeProvider.System);
        await using (batcher)
        {
            for (var i = 0; i < 6; i++)
            {
                var queued = Queued($"d{i}");
                acks.Add(queued.Acknowledgement);
                await batcher.EnqueueAsync(queued, _patience.Token);
            }
            await Polling.WaitUntil(() => _events.Count == 4);
        }

        var (topic, error) = Assert.Single(failures);
        Assert.Equal("cl/f/device/d0/delta", topic);
        Assert.IsType<IOException>(error);
        Assert.Equal(["store:3", "ack:d3", "ack:d4", "ack:d5"], _events);
        // The failed batch's messages are given back unacknowledged: the broker re-sends them after the reconnect.
        Assert.All(acks.Take(3), a => Assert.True(a.IsSettled));
    }

    [Fact]
    public async Task Batches_never_exceed_the_bound()
    {
        var sizes = new ConcurrentQueue<int>();
        using var first = new SemaphoreSlim(0);
        var batcher = new DeltaBatcher(16, TimeSpan.FromMilliseconds(5), batch =>
        {
            if (sizes.IsEmpty) first.Wait(Patience); // hold the first batch so the queue fills behind it
            sizes.Enqueue(batch.Count);
        }, (_, ex) => throw new InvalidOperationException("no failure expected", ex), TimeProvider.System);
        await using (batcher)
        {
            var producer = Task.Run(async () =>
            {
                for (var i = 0; i < 100; i++) await batcher.EnqueueAsync(Queued($"d{i}"), _patience.Token);
            });
            await Task.Delay(100, TestContext.Current.CancellationToken);
            first.Release();
            await producer.WaitAsync(Patience, TestContext.Current.CancellationToken);
            await Polling.WaitUntil(() => sizes.Sum(), n => n == 100, "every delta stored");
        }

        Assert.All(sizes, s => Assert.InRange(s, 1, 16));
        Assert.Contains(16, sizes); // a full queue makes full batches
    }

    [Fact]
    public async Task A_lone_delta_waits_the_linger_and_no_longer()
    {
        var time = new FakeTimeProvider();
        var batcher = new DeltaBatcher(256, TimeSpan.FromMilliseconds(2), batch => _events.Enqueue($"store:{batch.Count}"),
            (_, ex) => throw new InvalidOperationException("no failure expected", ex), time);
        await using (batcher)
        {
            await batcher.EnqueueAsync(Queued("d0"), _patience.Token);
            await Task.Delay(100, TestContext.Current.CancellationToken);
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Task.Delay(100, TestContext.Current.CancellationToken);
            Assert.Empty(_events); // 1 ms of 2: still lingering for more
            await batcher.EnqueueAsync(Queued("d1"), _patience.Token);
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Polling.WaitUntil(() => _events.Count == 3);
        }

        Assert.Equal(["store:2", "ack:d0", "ack:d1"], _events);
    }

    [Fact]
    public async Task A_stop_while_a_store_is_stuck_ends_within_its_patience_and_says_what_was_stuck()
    {
        using var gate = new SemaphoreSlim(0);
        var batcher = new DeltaBatcher(2, TimeSpan.FromMilliseconds(5), batch =>
        {
            gate.Wait(Patience); // a registry transaction that does not return
            _events.Enqueue($"store:{batch.Count}");
        }, (_, ex) => throw new InvalidOperationException("no failure expected", ex), TimeProvider.System, stopPatience: TimeSpan.FromMilliseconds(300));
        var queued = new List<FleetAcknowledgement>();
        for (var i = 0; i < 4; i++)
        {
            var delta = Queued($"d{i}");
            queued.Add(delta.Acknowledgement);
            await batcher.EnqueueAsync(delta, _patience.Token);
        }
        await Task.Delay(100, TestContext.Current.CancellationToken); // the writer takes the first batch and sticks in its store

        var error = await Assert.ThrowsAsync<TimeoutException>(async () => await batcher.DisposeAsync().AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken));

        Assert.Contains("the store of a batch", error.Message, StringComparison.Ordinal);
        Assert.Empty(_events); // nothing of the stuck batch acknowledged
        Assert.All(queued.Skip(2), a => Assert.True(a.IsSettled)); // what waited behind it is given back to the broker
        gate.Release();
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(_events, e => e.StartsWith("ack:", StringComparison.Ordinal)); // committed after the stop: still not acknowledged
    }

    [Fact]
    public async Task An_acknowledgement_that_fails_is_reported_and_the_later_ones_still_go_out()
    {
        var failed = new ConcurrentQueue<(string Topic, Exception Error)>();
        var batcher = new DeltaBatcher(2, TimeSpan.FromMilliseconds(5), batch => _events.Enqueue($"store:{batch.Count}"),
            (_, ex) => throw new InvalidOperationException("no failure expected", ex), TimeProvider.System, (topic, error) => failed.Enqueue((topic, error)));
        await using (batcher)
        {
            await batcher.EnqueueAsync(Queued("d0"), _patience.Token);
            await batcher.EnqueueAsync(Queued("d1", fail: true), _patience.Token);
            await Polling.WaitUntil(() => _events.Contains("ack:d0") && failed.Count == 1);
            await batcher.EnqueueAsync(Queued("d2"), _patience.Token);
            await Polling.WaitUntil(() => _events.Contains("ack:d2"));
        }

        var (topic, error) = Assert.Single(failed);
        Assert.Equal("cl/f/device/d1/delta", topic);
        Assert.IsType<IOException>(error);
    }

    [Fact]
    public async Task A_writer_that_died_fails_the_next_enqueue_at_once_instead_of_leaving_it_waiting()
    {
        // The failure path itself throws: the writer dies. The MQTT handler enqueueing behind it must learn it, not wait
        // for room in a queue nobody reads any more.
        var batcher = new DeltaBatcher(1, TimeSpan.Zero, _ => throw new IOException("disk full"),
            (_, ex) => throw new InvalidOperationException("failure path broken", ex), TimeProvider.System);
        var refused = await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(async () =>
        {
            for (var i = 0; i < 10; i++) await batcher.EnqueueAsync(Queued($"d{i}"), _patience.Token);
        });
        Assert.Equal("failure path broken", refused.InnerException?.Message);

        var stopped = await Assert.ThrowsAsync<InvalidOperationException>(async () => await batcher.DisposeAsync().AsTask().WaitAsync(Patience, TestContext.Current.CancellationToken));
        Assert.Contains("writer had failed", stopped.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _patience.Dispose();

    /// <summary>A received delta whose acknowledgement records itself in <see cref="_events"/> (or, with <paramref name="fail"/>, throws).</summary>
    private QueuedDelta Queued(string device, bool fail = false)
    {
        var message = new MqttApplicationMessageBuilder().WithTopic($"cl/f/device/{device}/delta").Build();
        var received = new MqttApplicationMessageReceivedEventArgs("agg", message, new MqttPublishPacket(), (_, _) =>
        {
            if (fail) throw new IOException("connection reset");
            _events.Enqueue($"ack:{device}");
            return Task.CompletedTask;
        })
        { AutoAcknowledge = false };
        var acknowledgement = new FleetAcknowledgement(received, _inbound, 0);
        acknowledgement.Defer();
        return new QueuedDelta(new ReceivedDelta(device, []), message.Topic, acknowledgement);
    }
}
