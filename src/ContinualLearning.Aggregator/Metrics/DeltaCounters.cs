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

    internal DeltaCounters(AggregatorMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument, metrics.DeltasAccepted) || ReferenceEquals(instrument, metrics.DeltasRejected))
                listener.EnableMeasurementEvents(instrument, metrics);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) =>
        {
            if (ReferenceEquals(instrument, ((AggregatorMetrics)state!).DeltasAccepted))
            {
                Interlocked.Add(ref _accepted, value);
                return;
            }
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

    public long TotalRejected => Enum.GetValues<RejectionReason>().Sum(Rejected);

    /// <summary>Rejection counts of the reasons that occurred.</summary>
    public IReadOnlyDictionary<RejectionReason, long> Snapshot() =>
        Enum.GetValues<RejectionReason>().Where(r => Rejected(r) > 0).ToDictionary(r => r, Rejected);

    public void Dispose() => _listener.Dispose();
}
