using System.Diagnostics.Metrics;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Aggregator.Metrics;

/// <summary>
/// Accepted and rejected deltas by reason since the service started, read from the service's meter (it counts,
/// this listens). Thread safe; the registry holds the persistent record.
/// </summary>
public sealed class DeltaCounters : IDisposable
{
    private readonly long[] _rejected = new long[Enum.GetValues<RejectionReason>().Length];
    private readonly MeterListener _listener = new();
    private long _accepted;
    private long _suppressed;
    private long _oversized;
    private long _inboxFailures;

    internal DeltaCounters(AggregatorMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument, metrics.DeltasAccepted) || ReferenceEquals(instrument, metrics.DeltasRejected)
                || ReferenceEquals(instrument, metrics.RejectionsSuppressed) || ReferenceEquals(instrument, metrics.MessagesOversized)
                || ReferenceEquals(instrument, metrics.InboxFailures))
                listener.EnableMeasurementEvents(instrument, metrics);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) =>
        {
            var m = (AggregatorMetrics)state!;
            if (ReferenceEquals(instrument, m.DeltasAccepted)) Interlocked.Add(ref _accepted, value);
            else if (ReferenceEquals(instrument, m.RejectionsSuppressed)) Interlocked.Add(ref _suppressed, value);
            else if (ReferenceEquals(instrument, m.MessagesOversized)) Interlocked.Add(ref _oversized, value);
            else if (ReferenceEquals(instrument, m.InboxFailures)) Interlocked.Add(ref _inboxFailures, value);
            if (!ReferenceEquals(instrument, m.DeltasRejected)) return;
            foreach (var tag in tags)
            {
                if (tag is { Key: AggregatorMetrics.ReasonTag, Value: string reason })
                    Interlocked.Add(ref _rejected[(int)WireText.Parse<RejectionReason>(reason)], value);
            }
        });
        _listener.Start();
    }

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Rejected(RejectionReason reason) => Interlocked.Read(ref _rejected[(int)reason]);

    /// <summary>Rejections counted but not stored or logged one by one (rate limit).</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    /// <summary>Messages refused before decoding because their payload was over the topic's cap.</summary>
    public long Oversized => Interlocked.Read(ref _oversized);

    /// <summary>Messages that could not be stored (left unacknowledged for redelivery; consumption paused).</summary>
    public long InboxFailures => Interlocked.Read(ref _inboxFailures);

    public long TotalRejected => Enum.GetValues<RejectionReason>().Sum(Rejected);

    /// <summary>Rejection counts of the reasons that occurred.</summary>
    public IReadOnlyDictionary<RejectionReason, long> Snapshot() =>
        Enum.GetValues<RejectionReason>().Where(r => Rejected(r) > 0).ToDictionary(r => r, Rejected);

    public void Dispose() => _listener.Dispose();
}
