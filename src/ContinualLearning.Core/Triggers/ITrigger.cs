using System.Globalization;

namespace ContinualLearning.Triggers;

/// <summary>Why a retraining run was triggered.</summary>
public enum TriggerReason
{
    /// <summary>The configured period has passed since the last run.</summary>
    Time,
    /// <summary>Enough new labelled samples have arrived.</summary>
    Volume,
    /// <summary>Recent accuracy fell too far below the champion's reference accuracy.</summary>
    Performance,
    /// <summary>A drift detector fired.</summary>
    Drift,
}

/// <summary>
/// A trigger's firing: the kind, a sentence for logs and telemetry, and the numbers behind it
/// (what was observed and the threshold it crossed), so a run can always be explained afterwards.
/// </summary>
public sealed record TriggerDecision(TriggerReason Reason, string Message, DateTimeOffset At, double Observed, double Threshold);

/// <summary>Snapshot of what the device knows when it asks "should I retrain now?".</summary>
public sealed record TriggerContext
{
    /// <summary>Current time (from the device's <see cref="TimeProvider"/>; see <see cref="TriggerMonitor"/>).</summary>
    public required DateTimeOffset Now { get; init; }

    /// <summary>When the last training run started; null if none yet.</summary>
    public DateTimeOffset? LastRunAt { get; init; }

    /// <summary>Labelled samples that arrived since the last run.</summary>
    public long NewLabelledSamples { get; init; }

    /// <summary>The champion's accuracy over the recent window; null when not measured yet.</summary>
    public double? WindowedAccuracy { get; init; }

    /// <summary>How many labelled predictions <see cref="WindowedAccuracy"/> is based on.</summary>
    public long WindowedSamples { get; init; }

    /// <summary>The champion's reference accuracy (e.g. on its holdout when it was promoted).</summary>
    public double? ReferenceAccuracy { get; init; }

    /// <summary>True when a drift detector has fired since the last run.</summary>
    public bool DriftDetected { get; init; }

    /// <summary>Which detector fired (for the decision's message).</summary>
    public string? DriftSource { get; init; }
}

/// <summary>A retraining policy: returns a decision when a run should start, else null. Triggers compose (<see cref="Trigger.AnyOf"/>, <see cref="Trigger.WithCooldown"/>).</summary>
public interface ITrigger
{
    /// <summary>The decision to start a run now, or null.</summary>
    TriggerDecision? Check(TriggerContext ctx);
}

/// <summary>Factory methods for the built-in policies.</summary>
public static class Trigger
{
    /// <summary>Fires when <paramref name="period"/> has passed since the last run.</summary>
    public static ITrigger Every(TimeSpan period) => new TimeTrigger(period);
    /// <summary>Fires when at least <paramref name="count"/> new labelled samples arrived since the last run.</summary>
    public static ITrigger AfterSamples(long count) => new VolumeTrigger(count);
    /// <summary>Fires when windowed accuracy is at least <paramref name="drop"/> (absolute) below the reference, once the window holds <paramref name="minWindowSamples"/> predictions.</summary>
    public static ITrigger OnAccuracyDrop(double drop, long minWindowSamples = 100) => new PerformanceTrigger(drop, minWindowSamples);
    /// <summary>Fires when a drift detector fired since the last run and at least <paramref name="minNewSamples"/> new samples arrived.</summary>
    public static ITrigger OnDrift(long minNewSamples = 0) => new DriftTrigger(minNewSamples);
    /// <summary>Fires when any of <paramref name="triggers"/> does; the first in the given order wins.</summary>
    public static ITrigger AnyOf(params ITrigger[] triggers) => new AnyOfTrigger(triggers);
    /// <summary>Suppresses firings of <paramref name="inner"/> within <paramref name="minInterval"/> of its last firing or the last run.</summary>
    public static ITrigger WithCooldown(this ITrigger inner, TimeSpan minInterval) => new CooldownTrigger(inner, minInterval);

    internal static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}

/// <summary>Fires when <c>period</c> has passed since the last run (or since this trigger first saw the clock, before any run).</summary>
internal sealed class TimeTrigger : ITrigger
{
    private DateTimeOffset? _firstSeen;

    public TimeTrigger(TimeSpan period)
    {
        if (period <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, "Time trigger period must be positive, e.g. 6 hours.");
        }
        Period = period;
    }

    public TimeSpan Period { get; }

    public TriggerDecision? Check(TriggerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        _firstSeen ??= ctx.Now;
        var since = ctx.LastRunAt ?? _firstSeen.Value;
        var elapsed = ctx.Now - since;
        if (elapsed < Period)
        {
            return null;
        }
        var what = ctx.LastRunAt is null ? "since start" : "since the last run";
        return new TriggerDecision(TriggerReason.Time, $"{elapsed} elapsed {what} (period {Period}).", ctx.Now, elapsed.TotalSeconds, Period.TotalSeconds);
    }
}

/// <summary>Fires when at least <c>count</c> new labelled samples have arrived since the last run.</summary>
internal sealed class VolumeTrigger : ITrigger
{
    public VolumeTrigger(long count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
    }

    public long Count { get; }

    public TriggerDecision? Check(TriggerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        return ctx.NewLabelledSamples >= Count
            ? new TriggerDecision(TriggerReason.Volume, $"{ctx.NewLabelledSamples} new labelled samples (threshold {Count}).", ctx.Now, ctx.NewLabelledSamples, Count)
            : null;
    }
}

/// <summary>
/// Fires when windowed accuracy is at least <c>drop</c> below the reference accuracy (absolute
/// difference, 0.05 = five points), once the window holds <c>minWindowSamples</c> predictions —
/// a handful of unlucky predictions must not start a run.
/// </summary>
internal sealed class PerformanceTrigger : ITrigger
{
    public PerformanceTrigger(double drop, long minWindowSamples = 100)
    {
        if (drop is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(drop), drop, "Accuracy drop must be in (0, 1], e.g. 0.05 for five percentage points.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(minWindowSamples);
        Drop = drop;
        MinWindowSamples = minWindowSamples;
    }

    public double Drop { get; }
    public long MinWindowSamples { get; }

    public TriggerDecision? Check(TriggerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (ctx.WindowedAccuracy is not { } acc || ctx.ReferenceAccuracy is not { } reference || ctx.WindowedSamples < MinWindowSamples)
        {
            return null;
        }
        var fall = reference - acc;
        return fall >= Drop
            ? new TriggerDecision(TriggerReason.Performance,
                $"Windowed accuracy {Trigger.F(acc)} over {ctx.WindowedSamples} samples is {Trigger.F(fall)} below the reference {Trigger.F(reference)} (allowed drop {Trigger.F(Drop)}).",
                ctx.Now, acc, reference - Drop)
            : null;
    }
}

/// <summary>Fires when a drift detector has fired since the last run (optionally only with enough new samples to train on).</summary>
internal sealed class DriftTrigger : ITrigger
{
    public DriftTrigger(long minNewSamples = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minNewSamples);
        MinNewSamples = minNewSamples;
    }

    public long MinNewSamples { get; }

    public TriggerDecision? Check(TriggerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (!ctx.DriftDetected || ctx.NewLabelledSamples < MinNewSamples)
        {
            return null;
        }
        return new TriggerDecision(TriggerReason.Drift,
            $"Drift detected by {ctx.DriftSource ?? "a detector"}; {ctx.NewLabelledSamples} new labelled samples.",
            ctx.Now, ctx.NewLabelledSamples, MinNewSamples);
    }
}

/// <summary>Fires when any child fires; the first firing child in the given order wins (order = priority). Every child is checked so stateful children stay current.</summary>
internal sealed class AnyOfTrigger : ITrigger
{
    private readonly ITrigger[] _triggers;

    public AnyOfTrigger(IEnumerable<ITrigger> triggers)
    {
        ArgumentNullException.ThrowIfNull(triggers);
        _triggers = [.. triggers];
        if (_triggers.Length == 0 || _triggers.Any(t => t is null))
        {
            throw new ArgumentException("AnyOf needs at least one trigger and no nulls.", nameof(triggers));
        }
    }

    public TriggerDecision? Check(TriggerContext ctx)
    {
        TriggerDecision? first = null;
        foreach (var t in _triggers)
        {
            var d = t.Check(ctx);
            first ??= d;
        }
        return first;
    }
}

/// <summary>
/// Suppresses firings within <c>minInterval</c> of the last firing or the last run, whichever is
/// later, so a persistent condition (accuracy still low while the new model trains) cannot start
/// run after run.
/// </summary>
internal sealed class CooldownTrigger : ITrigger
{
    private readonly ITrigger _inner;
    private DateTimeOffset? _lastFired;

    public CooldownTrigger(ITrigger inner, TimeSpan minInterval)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (minInterval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(minInterval), minInterval, "Cool-down must not be negative.");
        }
        _inner = inner;
        MinInterval = minInterval;
    }

    public TimeSpan MinInterval { get; }

    public TriggerDecision? Check(TriggerContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var last = Max(_lastFired, ctx.LastRunAt);
        if (last is { } l && ctx.Now - l < MinInterval)
        {
            return null;
        }
        var d = _inner.Check(ctx);
        if (d is not null)
        {
            _lastFired = ctx.Now;
        }
        return d;
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) =>
        a is null ? b : b is null ? a : (a > b ? a : b);
}
