using ContinualLearning.Replay;
using ContinualLearning.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Storage;

/// <summary>The TTL is a promise about what stays in RAM: expired rows go on a timer, not only at open or before a run.</summary>
public sealed class SampleStoreSweepTests : IDisposable
{
    private readonly ShmDirectory _dir = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Attack_samples_77s_old_with_a_30s_ttl_are_gone_without_a_run_or_a_reopen()
    {
        // Measured on the old store: TTL 30 s, rows 77 s old still on tmpfs, because nothing but open and
        // TakeFreshBatch ever expired them.
        using var store = new SampleStore(_dir.Options() with { Ttl = TimeSpan.FromSeconds(30) }, _clock);
        store.AddLabelledBatch(Samples.Batch(5));
        store.LogPrediction(Samples.Features(9), [], "v1");

        _clock.Advance(TimeSpan.FromSeconds(77));

        var stats = store.GetStats();
        Assert.Equal(0, stats.Rows);
        Assert.Equal(0, stats.Bytes);
        Assert.Equal(6, stats.Expired);
        Assert.Equal(6, store.Swept);
    }

    [Fact]
    public void The_default_sweep_runs_every_quarter_ttl_so_no_row_outlives_its_ttl_by_more()
    {
        var options = _dir.Options() with { Ttl = TimeSpan.FromSeconds(40) };
        Assert.Equal(TimeSpan.FromSeconds(10), options.EffectiveSweepInterval);
        using var store = new SampleStore(options, _clock);
        store.AddLabelled(Samples.Features(1), SampleLabel.Class(0));
        _clock.Advance(TimeSpan.FromSeconds(25));
        var young = store.AddLabelled(Samples.Features(2), SampleLabel.Class(1));

        // 50 s: the first row is 50 s old (expired at 40 s, swept at the 50 s tick); the second is 25 s old.
        _clock.Advance(TimeSpan.FromSeconds(25));

        Assert.Equal(1, store.GetStats().Rows);
        Assert.Equal(young, Assert.Single(store.TakeFreshBatch(10)).Id);
    }

    [Fact]
    public void Sweep_period_is_bounded_configurable_and_off_without_a_ttl()
    {
        var o = _dir.Options();
        Assert.Equal(TimeSpan.FromMinutes(5), (o with { Ttl = TimeSpan.FromHours(24) }).EffectiveSweepInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), (o with { Ttl = TimeSpan.FromSeconds(2) }).EffectiveSweepInterval);
        Assert.Equal(TimeSpan.FromSeconds(3), (o with { Ttl = TimeSpan.FromHours(1), ExpirySweepInterval = TimeSpan.FromSeconds(3) }).EffectiveSweepInterval);
        Assert.Equal(Timeout.InfiniteTimeSpan, (o with { Ttl = Timeout.InfiniteTimeSpan }).EffectiveSweepInterval);
        var e = Assert.Throws<ArgumentException>(() => new SampleStore(o with { ExpirySweepInterval = TimeSpan.Zero }, _clock));
        Assert.Contains("ExpirySweepInterval", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_sweep_fires_after_dispose()
    {
        var store = new SampleStore(_dir.Options() with { Ttl = TimeSpan.FromSeconds(4) }, _clock);
        store.AddLabelled(Samples.Features(1), SampleLabel.Class(0));
        store.Dispose();
        // A callback on a closed store would throw on the timer thread and end the process.
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, store.Swept);
    }
}
