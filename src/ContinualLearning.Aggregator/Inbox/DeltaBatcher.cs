using System.Threading.Channels;
using ContinualLearning.Fleet.Client;

namespace ContinualLearning.Aggregator.Inbox;

/// <summary>A received delta waiting in a batch, with the message's deferred acknowledgement.</summary>
internal readonly record struct QueuedDelta(ReceivedDelta Delta, string Topic, FleetAcknowledgement Acknowledgement);

/// <summary>
/// Group commit: deltas queue here as they arrive (their MQTT acknowledgements deferred), one writer takes up to
/// <see cref="InboxOptions.BatchMax"/> of them — or what came within <see cref="InboxOptions.BatchLinger"/> after the
/// first — stores them in one registry transaction and only after its commit acknowledges every message of the batch,
/// in arrival order. When the store throws, nothing of the batch is acknowledged: each message is abandoned (the broker
/// re-sends it after the reconnect) and the failure goes to the inbox's failure path, which pauses consumption.
/// So "nothing acknowledged before it is stored" holds per batch, and the registry pays one commit (one fsync) per batch.
/// </summary>
internal sealed class DeltaBatcher : IAsyncDisposable
{
    /// <summary>How long one PUBACK may take to send before the message is left to the broker's redelivery.</summary>
    internal static readonly TimeSpan AcknowledgePatience = TimeSpan.FromSeconds(10);

    /// <summary>How long <see cref="DisposeAsync"/> waits for the batch being stored and for the acknowledgements of the committed ones.</summary>
    internal static readonly TimeSpan DefaultStopPatience = TimeSpan.FromSeconds(30);

    private readonly Channel<QueuedDelta> _queue;
    private readonly Channel<QueuedDelta[]> _committed = Channel.CreateUnbounded<QueuedDelta[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Action<IReadOnlyList<ReceivedDelta>> _store;
    private readonly Action<string, Exception> _failed;
    private readonly Action<string, Exception> _acknowledgeFailed;
    private readonly TimeSpan _stopPatience;
    private readonly TimeProvider _time;
    private readonly int _batchMax;
    private readonly TimeSpan _linger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private readonly Task _acknowledger;
    private long _batches;
    private long _deltas;
    private int _largest;
    private long _storeTicks;
    private long _acknowledgeTicks;

    /// <param name="batchMax">Most deltas per transaction.</param>
    /// <param name="linger">How long a batch waits for more after its first delta.</param>
    /// <param name="store">Stores a batch in one transaction; throws when it could not.</param>
    /// <param name="failed">The failure path: the topic of the batch's first message and the error.</param>
    /// <param name="time">Clock of the linger.</param>
    /// <param name="acknowledgeFailed">
    /// A stored message's PUBACK could not be sent (topic, error): the broker re-sends it after the next reconnect and the
    /// registry drops the duplicate. Null ignores it.
    /// </param>
    /// <param name="stopPatience">Bound of <see cref="DisposeAsync"/>'s waits (default <see cref="DefaultStopPatience"/>).</param>
    public DeltaBatcher(
        int batchMax,
        TimeSpan linger,
        Action<IReadOnlyList<ReceivedDelta>> store,
        Action<string, Exception> failed,
        TimeProvider time,
        Action<string, Exception>? acknowledgeFailed = null,
        TimeSpan? stopPatience = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchMax, 1);
        _batchMax = batchMax;
        _linger = linger;
        _store = store;
        _failed = failed;
        _acknowledgeFailed = acknowledgeFailed ?? ((_, _) => { });
        _stopPatience = stopPatience ?? DefaultStopPatience;
        _time = time;
        // Two batches' worth: one being stored, one filling. A full queue holds the MQTT handler, and with it the
        // reading of the connection, until the writer catches up.
        _queue = Channel.CreateBounded<QueuedDelta>(new BoundedChannelOptions(2 * batchMax) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        _acknowledger = Task.Run(AcknowledgeCommittedAsync, CancellationToken.None);
    }

    /// <summary>Batches stored so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Deltas in the batches stored so far.</summary>
    public long Deltas => Interlocked.Read(ref _deltas);

    /// <summary>The largest batch stored so far.</summary>
    public int Largest => Volatile.Read(ref _largest);

    /// <summary>Time spent storing the batches (validation and the transaction) so far.</summary>
    public TimeSpan StoreTime => TimeSpan.FromTicks(Interlocked.Read(ref _storeTicks));

    /// <summary>Time spent sending the batches' acknowledgements so far.</summary>
    public TimeSpan AcknowledgeTime => TimeSpan.FromTicks(Interlocked.Read(ref _acknowledgeTicks));

    /// <summary>Queues a delta whose acknowledgement the caller deferred; waits while two batches are queued.</summary>
    /// <exception cref="ChannelClosedException">The batcher is stopping, or its writer failed (the inner exception says why).</exception>
    public ValueTask EnqueueAsync(QueuedDelta delta, CancellationToken cancellationToken) => _queue.Writer.WriteAsync(delta, cancellationToken);

    /// <summary>
    /// Stops: the batch being stored still gets its acknowledgements, what is queued behind it is abandoned (the broker
    /// re-sends it to the next session). Every wait is bounded by the stop patience.
    /// </summary>
    /// <exception cref="TimeoutException">A store or an acknowledgement did not end in time; its messages stay unacknowledged with the broker.</exception>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        var stuck = new List<string>(2);
        if (!await EndedAsync(_writer).ConfigureAwait(false))
            stuck.Add("the store of a batch (its registry transaction) has not returned; its messages stay unacknowledged with the broker");
        // Committed batches still get their acknowledgements; what was never stored the broker re-sends to the next session.
        _committed.Writer.TryComplete();
        if (!await EndedAsync(_acknowledger).ConfigureAwait(false))
            stuck.Add("the acknowledgements of committed batches have not all been sent; the broker re-sends the rest after the next reconnect");
        while (_queue.Reader.TryRead(out var left)) left.Acknowledgement.Abandon();
        if (stuck.Count > 0)
            throw new TimeoutException($"The delta batcher did not stop within {_stopPatience.TotalSeconds:0.#} s: {string.Join("; ", stuck)}.");
        _stop.Dispose();
        if (_writer.Exception?.InnerException is { } failure)
            throw new InvalidOperationException($"The delta batcher's writer had failed: {failure.Message}", failure);
    }

    /// <summary>Whether <paramref name="task"/> ended (however) within the stop patience, in real time: a test's fake clock must not hold a stop.</summary>
    private async Task<bool> EndedAsync(Task task)
    {
        try
        {
            await task.WaitAsync(_stopPatience, TimeProvider.System).ConfigureAwait(false);
        }
        catch (Exception) when (task.IsCompleted)
        {
            // Cancelled as asked, or faulted: a fault is reported once the rest is stopped.
        }
        catch (TimeoutException)
        {
            return false;
        }
        return true;
    }

    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            await FillAndStoreAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A writer that died must not leave the MQTT handler waiting for room in a queue nobody reads: the next
            // enqueue fails at once with this error inside, and the inbox pauses on it.
            _queue.Writer.TryComplete(ex);
            while (_queue.Reader.TryRead(out var left)) left.Acknowledgement.Abandon();
            throw;
        }
    }

    private async Task FillAndStoreAsync(CancellationToken stop)
    {
        var batch = new List<QueuedDelta>(_batchMax);
        while (await _queue.Reader.WaitToReadAsync(stop).ConfigureAwait(false))
        {
            batch.Clear();
            try
            {
                await FillAsync(batch, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                foreach (var queued in batch) queued.Acknowledgement.Abandon();
                throw;
            }
            if (batch.Count > 0) Store(batch);
        }
    }

    /// <summary>Takes up to a batch: what is queued, then what arrives until the linger after the first delta is over.</summary>
    private async Task FillAsync(List<QueuedDelta> batch, CancellationToken stop)
    {
        var deadline = _time.GetTimestamp() + (long)(_linger.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            while (batch.Count < _batchMax && _queue.Reader.TryRead(out var next)) batch.Add(next);
            if (batch.Count >= _batchMax || batch.Count == 0) return;
            var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero) return;
            using var linger = new CancellationTokenSource(left, _time);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, linger.Token);
            try
            {
                if (!await _queue.Reader.WaitToReadAsync(either.Token).ConfigureAwait(false)) return;
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                return; // the linger is over: store what came
            }
        }
    }

    private void Store(List<QueuedDelta> batch)
    {
        var started = _time.GetTimestamp();
        try
        {
            _store(batch.Select(q => q.Delta).ToArray());
        }
        catch (Exception ex)
        {
            foreach (var queued in batch) queued.Acknowledgement.Abandon();
            _failed(batch[0].Topic, ex);
            return;
        }
        Interlocked.Add(ref _storeTicks, _time.GetElapsedTime(started).Ticks);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _deltas, batch.Count);
        if (batch.Count > Volatile.Read(ref _largest)) Volatile.Write(ref _largest, batch.Count);
        // Committed: now, and only now, the PUBACKs — sent by the acknowledger while the next batch is stored.
        _committed.Writer.TryWrite(batch.ToArray());
    }

    /// <summary>Acknowledges the committed batches one after the other, each in the order its messages came (MQTT 5 §4.6).</summary>
    /// <remarks>
    /// Ends when <see cref="DisposeAsync"/> completes the committed channel. A PUBACK that fails or does not go out within
    /// <see cref="AcknowledgePatience"/> is reported and skipped: one stuck or dropped connection must not keep the later
    /// batches' messages (and their receive-window slots) unacknowledged for ever.
    /// </remarks>
    private async Task AcknowledgeCommittedAsync()
    {
        await foreach (var batch in _committed.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var started = _time.GetTimestamp();
            foreach (var queued in batch)
            {
                try
                {
                    using var patience = new CancellationTokenSource(AcknowledgePatience);
                    await queued.Acknowledgement.AcknowledgeAsync(patience.Token).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    _acknowledgeFailed(queued.Topic, ex is OperationCanceledException
                        ? new TimeoutException($"The PUBACK was not sent within {AcknowledgePatience.TotalSeconds:0.#} s (the connection does not drain).", ex)
                        : ex);
                }
            }
            Interlocked.Add(ref _acknowledgeTicks, _time.GetElapsedTime(started).Ticks);
        }
    }
}
