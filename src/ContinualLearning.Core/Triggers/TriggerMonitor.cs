namespace ContinualLearning.Triggers;

/// <summary>
/// Runs a trigger policy against the device clock and keeps the bookkeeping a policy needs: when the
/// last run started and the recent decisions (why each run happened), so callers only report
/// observations.
/// </summary>
public sealed class TriggerMonitor
{
    private readonly ITrigger _trigger;
    private readonly TimeProvider _time;
    private readonly Queue<TriggerDecision> _history = new();
    private readonly int _historyLimit;

    /// <param name="trigger">The policy, e.g. <c>Trigger.AnyOf(...).WithCooldown(...)</c>.</param>
    /// <param name="time">Clock; <see cref="TimeProvider.System"/> in production, a fake one in tests.</param>
    /// <param name="historyLimit">Decisions kept in <see cref="History"/>.</param>
    public TriggerMonitor(ITrigger trigger, TimeProvider? time = null, int historyLimit = 100)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        ArgumentOutOfRangeException.ThrowIfLessThan(historyLimit, 1);
        _trigger = trigger;
        _time = time ?? TimeProvider.System;
        _historyLimit = historyLimit;
    }

    /// <summary>When <see cref="MarkRun"/> was last called.</summary>
    public DateTimeOffset? LastRunAt { get; private set; }

    /// <summary>Most recent decisions, oldest first.</summary>
    public IReadOnlyCollection<TriggerDecision> History => _history;

    /// <summary>Builds the context at the current time and checks the policy; a firing is added to <see cref="History"/>.</summary>
    public TriggerDecision? Check(long newLabelledSamples, double? windowedAccuracy = null, long windowedSamples = 0,
        double? referenceAccuracy = null, bool driftDetected = false, string? driftSource = null)
    {
        var ctx = new TriggerContext
        {
            Now = _time.GetUtcNow(),
            LastRunAt = LastRunAt,
            NewLabelledSamples = newLabelledSamples,
            WindowedAccuracy = windowedAccuracy,
            WindowedSamples = windowedSamples,
            ReferenceAccuracy = referenceAccuracy,
            DriftDetected = driftDetected,
            DriftSource = driftSource,
        };
        var decision = _trigger.Check(ctx);
        if (decision is not null)
        {
            _history.Enqueue(decision);
            while (_history.Count > _historyLimit)
            {
                _history.Dequeue();
            }
        }
        return decision;
    }

    /// <summary>Records that a training run started now (time and cool-down policies count from here).</summary>
    public void MarkRun() => LastRunAt = _time.GetUtcNow();
}
