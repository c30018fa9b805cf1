using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The canary rule, fed through a <see cref="CanaryWatch"/> over a real registry (1.1.0 on canary to c1 and c2, control 1.0.0).</summary>
public sealed class RolloutPolicyTests : IDisposable
{
    private static readonly RolloutOptions Options = new() { AccuracyMargin = 0.02, MinReports = 3, Window = TimeSpan.FromMinutes(5) };
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly ModelRegistry _registry;

    public RolloutPolicyTests()
    {
        _registry = ModelRegistry.Open(_kit.RegistryPath);
        var seed = _registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        _registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Canary });
    }

    public void Dispose()
    {
        _registry.Dispose();
        _kit.Dispose();
    }

    private CanaryWatch NewWatch(params string[] canary)
    {
        var record = new CanaryRecord(AggregatorTestKit.Model, "1.1.0", "1.0.0", T0, canary);
        _registry.Canaries.Start(record);
        return new CanaryWatch(_registry.Canaries, record, "agg-1");
    }

    private CanaryWatch Watch(params (string Device, string Version, double Accuracy)[] reports)
    {
        var watch = NewWatch("c1", "c2");
        // Each report a millisecond after the one before: a device's report is identified by its time.
        for (var i = 0; i < reports.Length; i++) watch.Add(new AccuracyReport(reports[i].Device, reports[i].Version, reports[i].Accuracy, T0.AddSeconds(1).AddMilliseconds(i)));
        return watch;
    }

    [Fact]
    public void Promotes_when_canary_is_no_worse_than_control_within_the_margin()
    {
        var w = Watch(("c1", "1.1.0", 0.85), ("c2", "1.1.0", 0.86), ("c1", "1.1.0", 0.84), ("k1", "1.0.0", 0.86), ("k2", "1.0.0", 0.87), ("k3", "1.0.0", 0.86));
        var d = w.Decide(Options, T0.AddSeconds(30));
        Assert.Equal(RolloutVerdict.Promote, d.Verdict);
        Assert.Equal(3, d.CanaryReports);
        Assert.Equal(3, d.ControlReports);
        Assert.Equal((0.845 + 0.86) / 2, d.CanaryAccuracy!.Value, 9); // per-device means, then mean over devices
        Assert.Contains("\"canaryAccuracy\"", d.ToJson());
    }

    [Fact]
    public void Rolls_back_when_canary_is_worse_by_more_than_the_margin()
    {
        var w = Watch(("c1", "1.1.0", 0.60), ("c2", "1.1.0", 0.62), ("c1", "1.1.0", 0.58), ("k1", "1.0.0", 0.86), ("k2", "1.0.0", 0.87), ("k3", "1.0.0", 0.86));
        var d = w.Decide(Options, T0.AddSeconds(30));
        Assert.Equal(RolloutVerdict.Rollback, d.Verdict);
        Assert.True(d.CanaryAccuracy < d.ControlAccuracy - Options.AccuracyMargin);
    }

    [Fact]
    public void Waits_for_reports_and_rolls_back_when_the_window_ends_without_them()
    {
        var w = Watch(("c1", "1.1.0", 0.9), ("k1", "1.0.0", 0.8));
        Assert.Equal(RolloutVerdict.Wait, w.Decide(Options, T0.AddMinutes(1)).Verdict);
        var late = w.Decide(Options, T0.AddMinutes(6));
        Assert.Equal(RolloutVerdict.Rollback, late.Verdict);
        Assert.Contains("window", late.Reason);
    }

    [Fact]
    public void Reports_about_other_versions_or_from_before_the_canary_are_ignored()
    {
        var w = NewWatch("c1");
        w.Add(new AccuracyReport("c1", "1.0.0", 0.1, T0.AddSeconds(1))); // canary device, still on the old version
        w.Add(new AccuracyReport("k1", "1.1.0", 0.1, T0.AddSeconds(1))); // control device on the candidate
        w.Add(new AccuracyReport("k1", "1.0.0", 0.1, T0.AddSeconds(-1))); // before the start
        var d = w.Decide(Options, T0.AddSeconds(2));
        Assert.Equal(0, d.CanaryReports);
        Assert.Equal(0, d.ControlReports);
    }

    [Fact]
    public void Cohort_assignment_is_deterministic_and_roughly_the_fraction()
    {
        var devices = Enumerable.Range(0, 2000).Select(i => $"pi-{i}").ToArray();
        var options = new RolloutOptions { CanaryFraction = 0.1 };
        var a = CohortAssigner.Canary(devices, options);
        var b = CohortAssigner.Canary(devices.Reverse(), options);
        Assert.Equal(a, b);
        Assert.InRange(a.Count, 150, 250);
        Assert.Equal(["pi-3", "pi-9"], CohortAssigner.Canary(devices, options with { CanaryDevices = ["pi-9", "pi-3", "absent"] }));
        // A tiny fleet still gets one canary.
        Assert.Single(CohortAssigner.Canary(["a", "b"], options with { CanaryFraction = 0.0001 }));
    }
}
