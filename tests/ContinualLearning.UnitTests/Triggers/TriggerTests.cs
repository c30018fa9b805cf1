using ContinualLearning.Triggers;

namespace ContinualLearning.UnitTests.Triggers;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; private set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

public sealed class TriggerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static TriggerContext Ctx(DateTimeOffset now, long newSamples = 0, double? acc = null, long windowed = 0, double? reference = null, bool drift = false, DateTimeOffset? lastRun = null) =>
        new() { Now = now, NewLabelledSamples = newSamples, WindowedAccuracy = acc, WindowedSamples = windowed, ReferenceAccuracy = reference, DriftDetected = drift, DriftSource = drift ? "ADWIN(delta=0.002)" : null, LastRunAt = lastRun };

    [Fact]
    public void Time_trigger_fires_once_the_period_has_passed_since_the_last_run()
    {
        var t = Trigger.Every(TimeSpan.FromHours(6));
        Assert.Null(t.Check(Ctx(T0)));
        Assert.Null(t.Check(Ctx(T0.AddHours(5.9))));
        var d = t.Check(Ctx(T0.AddHours(6)));
        Assert.NotNull(d);
        Assert.Equal(TriggerReason.Time, d.Reason);
        Assert.Equal(6 * 3600, d.Observed);
        Assert.Null(t.Check(Ctx(T0.AddHours(7), lastRun: T0.AddHours(6))));
        Assert.NotNull(t.Check(Ctx(T0.AddHours(12), lastRun: T0.AddHours(6))));
    }

    [Fact]
    public void Volume_trigger_counts_new_labelled_samples()
    {
        var t = Trigger.AfterSamples(500);
        Assert.Null(t.Check(Ctx(T0, newSamples: 499)));
        var d = t.Check(Ctx(T0, newSamples: 500));
        Assert.Equal(TriggerReason.Volume, d!.Reason);
        Assert.Contains("500 new labelled samples", d.Message);
    }

    [Fact]
    public void Performance_trigger_needs_the_drop_and_enough_window_samples()
    {
        var t = Trigger.OnAccuracyDrop(0.05, minWindowSamples: 200);
        Assert.Null(t.Check(Ctx(T0, acc: 0.86, windowed: 500, reference: 0.90)));   // 4 points down
        Assert.Null(t.Check(Ctx(T0, acc: 0.70, windowed: 50, reference: 0.90)));    // too few samples
        Assert.Null(t.Check(Ctx(T0, acc: 0.70, windowed: 500)));                     // no reference yet
        var d = t.Check(Ctx(T0, acc: 0.84, windowed: 500, reference: 0.90));
        Assert.Equal(TriggerReason.Performance, d!.Reason);
        Assert.Equal(0.84, d.Observed);
        Assert.Equal(0.85, d.Threshold, 12);
        Assert.Contains("0.06 below the reference 0.9", d.Message);
    }

    [Fact]
    public void Drift_trigger_names_the_detector_and_can_wait_for_samples()
    {
        Assert.Null(Trigger.OnDrift().Check(Ctx(T0)));
        var d = Trigger.OnDrift().Check(Ctx(T0, drift: true));
        Assert.Equal(TriggerReason.Drift, d!.Reason);
        Assert.Contains("ADWIN", d.Message);
        Assert.Null(Trigger.OnDrift(minNewSamples: 100).Check(Ctx(T0, newSamples: 10, drift: true)));
    }

    [Fact]
    public void AnyOf_returns_the_first_firing_child_in_priority_order()
    {
        var any = Trigger.AnyOf(Trigger.OnDrift(), Trigger.AfterSamples(100));
        Assert.Null(any.Check(Ctx(T0, newSamples: 10)));
        Assert.Equal(TriggerReason.Volume, any.Check(Ctx(T0, newSamples: 100))!.Reason);
        Assert.Equal(TriggerReason.Drift, any.Check(Ctx(T0, newSamples: 100, drift: true))!.Reason);
    }

    [Fact]
    public void Cooldown_stops_a_persistent_condition_from_firing_continuously()
    {
        var clock = new ManualClock(T0);
        var monitor = new TriggerMonitor(Trigger.OnAccuracyDrop(0.05).WithCooldown(TimeSpan.FromMinutes(30)), clock);
        var fired = 0;
        // Accuracy stays low for two hours, checked every minute: at most one firing per 30 minutes.
        for (var minute = 0; minute < 120; minute++)
        {
            if (monitor.Check(100, windowedAccuracy: 0.6, windowedSamples: 1000, referenceAccuracy: 0.9) is not null)
            {
                fired++;
            }
            clock.Advance(TimeSpan.FromMinutes(1));
        }
        Assert.Equal(4, fired);
        Assert.Equal(4, monitor.History.Count);
        Assert.All(monitor.History, d => Assert.Equal(TriggerReason.Performance, d.Reason));
        Assert.Equal(T0.AddMinutes(30), monitor.History.ElementAt(1).At);
    }

    [Fact]
    public void Cooldown_also_counts_from_the_last_run()
    {
        var clock = new ManualClock(T0);
        var monitor = new TriggerMonitor(Trigger.AfterSamples(10).WithCooldown(TimeSpan.FromMinutes(10)), clock);
        monitor.MarkRun();
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(monitor.Check(50));
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.NotNull(monitor.Check(50));
        Assert.Equal(T0, monitor.LastRunAt);
    }

    [Fact]
    public void Bad_policy_parameters_say_what_to_use()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Trigger.OnAccuracyDrop(5));
        Assert.Contains("0.05", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Trigger.Every(TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => Trigger.AnyOf());
    }
}
