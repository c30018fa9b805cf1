using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>
/// Where a rejection or a decision is written down, whoever makes it: the meter counts every rejection here and nowhere
/// else; the registry row and the log line happen together, for as many rejections as the per-device rate limit lets
/// through (<see cref="RejectionThrottle"/>). The ones it holds back are summed into one "suppressed" line, written
/// with the next recorded rejection or by <see cref="FlushSuppressed"/>. Rollout decisions are logged by the
/// coordinator, which knows more to say about them.
/// </summary>
internal sealed partial class Journal(ModelRegistry registry, AggregatorMetrics metrics, ILogger logger, RetentionOptions? retention = null)
{
    private readonly RetentionOptions _retention = retention ?? new();
    private readonly RejectionThrottle _throttle = new((retention ?? new()).RejectionBurst, (retention ?? new()).RejectionsPerMinute, registry.Time);
    private readonly Lock _lock = new();
    private long _suppressed;

    /// <summary>A delta refused on arrival or dropped from the buffer at aggregation.</summary>
    public void Reject(RejectionRecord rejection)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        metrics.DeltaRejected(rejection.Reason);
        lock (_lock)
        {
            if (!_throttle.TryTake(rejection.DeviceId))
            {
                _suppressed++;
                metrics.RejectionSuppressed();
                return;
            }
            // Stored before the summary is cleared: a failing insert (disk full) must leave the count for the next try.
            registry.Rejections.Record(rejection);
            FlushSuppressedLocked();
        }
        LogRejected(logger, rejection.Reason.ToText(), rejection.Message);
    }

    /// <summary>Writes the "N more rejections suppressed" line if any were held back since the last one.</summary>
    public void FlushSuppressed()
    {
        lock (_lock) FlushSuppressedLocked();
    }

    /// <summary>A gate or rollout decision about <paramref name="version"/>, with the numbers behind it.</summary>
    public void Decide(string name, string version, DecisionKind decision, string reason, string numbersJson)
    {
        registry.Decisions.Record(name, version, decision, reason, numbersJson);
        metrics.Decided(decision);
    }

    private void FlushSuppressedLocked()
    {
        if (_suppressed == 0) return;
        LogSuppressed(logger, _suppressed, _retention.RejectionBurst, _retention.RejectionsPerMinute);
        _suppressed = 0;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Rejected ({Reason}): {Message}")]
    private static partial void LogRejected(ILogger logger, string reason, string message);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "{Count} more rejections suppressed (counted in cl.aggregator.deltas.rejected, not stored or logged one by one): a device is over {Burst} rejections plus {PerMinute} a minute (retention:rejectionBurst, retention:rejectionsPerMinute)")]
    private static partial void LogSuppressed(ILogger logger, long count, int burst, double perMinute);
}
