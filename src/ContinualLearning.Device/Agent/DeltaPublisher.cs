using System.Threading.Channels;
using ContinualLearning.Deltas;
using ContinualLearning.Learning;
using ContinualLearning.Device.Outbox;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>What the broker acknowledged: a delta's id, its size on the wire and its L2 norm as sent.</summary>
/// <param name="DeltaId">The id in the delta header (<see cref="Guid.Empty"/> when the payload is not a CLD1 delta).</param>
/// <param name="Bytes">Payload bytes published.</param>
/// <param name="Norm">L2 norm of the published delta (NaN when it could not be decoded).</param>
public sealed record DeltaReceipt(Guid DeltaId, int Bytes, double Norm);

/// <summary>
/// Turns promotions into deltas and gets them to the broker. The learner's training thread only queues a promotion
/// (<see cref="Offer"/>, a bounded channel); <see cref="BuildDeltasAsync"/> reads the channel in order, compresses
/// the increment with error feedback and writes it to the on-disk outbox; <see cref="PumpAsync"/> publishes the outbox
/// at QoS 1 and removes an item only after the PUBACK. New releases and wipe-data go through the same channel, so
/// the error-feedback state sees promotions, rebases and resets in the order they happened.
/// </summary>
internal sealed partial class DeltaPublisher : IDisposable
{
    /// <summary>
    /// Promotions that may wait to become deltas. A training run takes seconds and a delta milliseconds, so the channel
    /// only fills when the disk stalls; a promotion refused then is not lost: the next delta is measured from what was
    /// last reported, so it carries that change too.
    /// </summary>
    internal const int PendingCapacity = 64;

    private readonly DeviceRuntime _runtime;
    private readonly RuntimeSettings _settings;
    private readonly IDeltaTransport _transport;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ErrorFeedbackState _feedback;
    private readonly Lock _feedbackLock = new();
    private readonly Channel<Work> _work = Channel.CreateBounded<Work>(new BoundedChannelOptions(PendingCapacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly SemaphoreSlim _outboxSignal = new(0);
    private long _droppedSeen;
    private int _promotionsQueued;

    public DeltaPublisher(DeviceRuntime runtime, RuntimeSettings settings, IDeltaTransport transport, ILogger logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        _runtime = runtime;
        _settings = settings;
        _transport = transport;
        _logger = logger;
        _time = time;
        var o = runtime.Options;
        Outbox = new DeltaOutbox(o.OutboxDirectory, o.Delta.OutboxMaxFiles, o.Delta.OutboxMaxBytes, logger);
        Outbox.ItemAdded += Nudge;
        _feedback = LoadFeedback(o.ErrorFeedbackPath);
        Privacy = new PrivacyGate(o.Privacy, o.PrivacyLedgerPath, logger);
    }

    /// <summary>The device's ε ledger: every delta passes it before it is built.</summary>
    public PrivacyGate Privacy { get; }

    public DeltaOutbox Outbox { get; }

    /// <summary>L2 norm of the learning that top-k and quantisation have not sent yet.</summary>
    public double ResidualNorm
    {
        get
        {
            lock (_feedbackLock) return _feedback.ResidualNorm;
        }
    }

    /// <summary>Deltas not acknowledged yet: promotions still to be written to the outbox, and the outbox's items.</summary>
    public int Pending => Volatile.Read(ref _promotionsQueued) + Outbox.Count;

    /// <summary>Raised after the broker acknowledged a delta.</summary>
    public event Action<DeltaReceipt>? Acknowledged;

    /// <summary>Queues a promotion (called on the training thread; returns at once, the disk write happens later).</summary>
    public void Offer(PromotedEventArgs promotion)
    {
        ArgumentNullException.ThrowIfNull(promotion);
        Interlocked.Increment(ref _promotionsQueued);
        if (_work.Writer.TryWrite(new Promotion(promotion))) return;
        Interlocked.Decrement(ref _promotionsQueued);
        LogPromotionNotQueued(_logger, promotion.NewVersion, PendingCapacity);
    }

    /// <summary>A new global release is installed: the next increment is measured from it (the residual is kept).</summary>
    public async Task RebaseAsync(string? baseVersion, CancellationToken cancellationToken)
    {
        try
        {
            await _work.Writer.WriteAsync(new NewBase(baseVersion), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // The agent is stopping. Nothing is lost: a promotion names its base, and the first one on a base the state
            // does not know starts from that base's weights.
        }
    }

    /// <summary>Forgets the unsent residual (wipe-data: it is made from the deleted samples); returns once it is gone.</summary>
    public async Task ForgetResidualAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _work.Writer.WriteAsync(new Wipe(done), cancellationToken).ConfigureAwait(false);
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Wakes the pump (an item was added, or the connection came back).</summary>
    public void Nudge() => _outboxSignal.Release();

    /// <summary>No more promotions are taken; <see cref="BuildDeltasAsync"/> finishes once it has written the queued ones.</summary>
    public void CompleteIntake() => _work.Writer.TryComplete();

    /// <summary>Writes queued promotions to the outbox, in order, until <see cref="CompleteIntake"/> and the queue is empty.</summary>
    public async Task BuildDeltasAsync()
    {
        await foreach (var work in _work.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            switch (work)
            {
                case Promotion p:
                    Queue(p.Args);
                    Interlocked.Decrement(ref _promotionsQueued);
                    break;
                case NewBase b:
                    Guard(() => _feedback.Rebase(b.BaseVersion), "rebase the error-feedback state");
                    break;
                case Wipe w:
                    try
                    {
                        lock (_feedbackLock) _feedback.Reset(_feedback.BaseVersion);
                        w.Done.SetResult();
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        w.Done.SetException(ex);
                    }
                    break;
            }
        }
    }

    /// <summary>Publishes the outbox, oldest first, until <paramref name="stop"/>; failed publishes are retried every second.</summary>
    public async Task PumpAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                if (Outbox.Peek() is { } item) await PublishAsync(item, stop).ConfigureAwait(false);
                else await _outboxSignal.WaitAsync(stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public void Dispose() => _outboxSignal.Dispose();

    private async Task PublishAsync(OutboxItem item, CancellationToken stop)
    {
        try
        {
            var sent = await _transport.PublishAsync(item.Payload, stop).ConfigureAwait(false);
            Outbox.Remove(item.Sequence);
            _runtime.Metrics.CountDeltaSent();
            var receipt = Receipt(sent);
            LogAcknowledged(_logger, receipt.DeltaId, Outbox.Count);
            Acknowledged?.Invoke(receipt);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            LogPublishFailed(_logger, item.Sequence, ex.Message);
            await Task.Delay(TimeSpan.FromSeconds(1), _time, stop).ConfigureAwait(false);
        }
    }

    private void Queue(PromotedEventArgs e)
    {
        try
        {
            // Not sent now: the next delta is measured from what was last reported, so it carries this learning too.
            if (Privacy.Admit() is PrivacyDecision.BudgetSpent or PrivacyDecision.NotSampled) return;
            var options = _runtime.Options.Delta.Compression with { Fraction = _settings.TopKFraction };
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                ["championMetric"] = e.Decision.ChampionMetric,
                ["challengerMetric"] = e.Decision.ChallengerMetric,
                ["holdoutSamples"] = e.Decision.HoldoutSamples,
            };
            // Under concept-aware aggregation: the cluster report measured before the run (cluster.* keys).
            foreach (var (key, value) in e.RunMetrics ?? new Dictionary<string, double>()) metrics[key] = value;
            var header = new DeltaHeader(
                _runtime.Learner?.Status.ModelName ?? _runtime.Options.ModelName,
                e.BaseVersion,
                _runtime.Options.DeviceId,
                Guid.NewGuid(),
                e.SamplesUsed,
                metrics,
                _time.GetUtcNow(),
                HeaderLabels(e));
            // Personal layers (learning:personalLayers) stay on the device: the delta and its residual cover the shared tensors only.
            var (baseWeights, championWeights) = e.SharedWeights();
            byte[] payload;
            lock (_feedbackLock)
            {
                payload = DeltaCodec.Encode(new WeightDelta(header, _feedback.Next(e.BaseVersion, baseWeights, championWeights, options)));
                // Queue first, then save the residual: after a crash in between, the residual is re-sent next time
                // (a little extra) rather than lost.
                Outbox.Enqueue(payload);
                _feedback.Save();
            }
            var dropped = Outbox.DroppedCount - Interlocked.Exchange(ref _droppedSeen, Outbox.DroppedCount);
            if (dropped > 0) _runtime.Metrics.CountDeltasDropped(dropped);
            LogQueued(_logger, e.NewVersion, e.BaseVersion, e.SamplesUsed, header.DeltaId, payload.Length, Outbox.Count);
        }
        catch (Exception ex)
        {
            _runtime.LastError = $"could not queue the delta: {ex.Message}";
            LogQueueFailed(_logger, ex, e.NewVersion);
        }
    }

    /// <summary>
    /// <see cref="DeltaHeader.Labels"/> for a promotion: the champion's label names when a head grown on the device no
    /// longer has the base release's labels (the aggregator aligns rows by these names; BaseWeights are aligned to them).
    /// </summary>
    internal static IReadOnlyList<string>? HeaderLabels(PromotedEventArgs e) => e.LabelsDifferFromBase ? e.LabelNames : null;

    private void Guard(Action action, string what)
    {
        try
        {
            lock (_feedbackLock) action();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _runtime.LastError = $"could not {what}: {ex.Message}";
            LogFeedbackFailed(_logger, ex, what);
        }
    }

    private static DeltaReceipt Receipt(byte[] payload)
    {
        try
        {
            var delta = DeltaCodec.Decode(payload);
            return new DeltaReceipt(delta.Header.DeltaId, payload.Length, Delta.L2Norm(delta));
        }
        catch (DeltaFormatException)
        {
            return new DeltaReceipt(Guid.Empty, payload.Length, double.NaN);
        }
    }

    private ErrorFeedbackState LoadFeedback(string path)
    {
        try
        {
            return ErrorFeedbackState.Load(path, _time);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or FormatException)
        {
            LogFeedbackUnreadable(_logger, ex, path);
            File.Delete(path);
            return ErrorFeedbackState.Load(path, _time);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Promotion {Version} (base {Base}, {Samples} samples): queued delta {DeltaId}, {Bytes} bytes, outbox depth {Depth}.")]
    private static partial void LogQueued(ILogger logger, string version, string @base, int samples, Guid deltaId, int bytes, int depth);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not turn promotion {Version} into a delta.")]
    private static partial void LogQueueFailed(ILogger logger, Exception exception, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Promotion {Version} was not queued as a delta: the agent is stopping or {Capacity} promotions are still waiting for the disk. The next delta carries its change (deltas are measured from what was last reported).")]
    private static partial void LogPromotionNotQueued(ILogger logger, string version, int capacity);

    [LoggerMessage(Level = LogLevel.Information, Message = "Delta {DeltaId} acknowledged by the broker; outbox depth {Depth}.")]
    private static partial void LogAcknowledged(ILogger logger, Guid deltaId, int depth);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing delta #{Sequence} failed ({Reason}); will retry.")]
    private static partial void LogPublishFailed(ILogger logger, long sequence, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not {What}; the next delta may repeat or miss part of the learning.")]
    private static partial void LogFeedbackFailed(ILogger logger, Exception exception, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Error-feedback state {Path} is unreadable; starting with an empty residual.")]
    private static partial void LogFeedbackUnreadable(ILogger logger, Exception exception, string path);

    private abstract record Work;

    private sealed record Promotion(PromotedEventArgs Args) : Work;

    private sealed record NewBase(string? BaseVersion) : Work;

    private sealed record Wipe(TaskCompletionSource Done) : Work;
}
