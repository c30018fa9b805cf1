using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Tests.Registry;

/// <summary>The console's tables (migration 0004: audit, rollout_points) and the reads the console adds to rejections and canaries.</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task Audit_entries_are_listed_newest_first_and_pruned_by_age_then_rows()
    {
        var registry = await OpenAsync();
        Assert.Empty(registry.Audit.Recent(10));
        for (var i = 0; i < 5; i++)
            registry.Audit.Record(new AuditRecord(T0.AddMinutes(i), i % 2 == 0 ? "alice" : "anonymous", "rollback", $"1.{i}.0", i % 2 == 0 ? "done" : "forbidden", $"attempt {i}"));

        var recent = registry.Audit.Recent(3);
        Assert.Equal(["1.4.0", "1.3.0", "1.2.0"], recent.Select(a => a.Target));
        Assert.Equal(("alice", "rollback", "done", "attempt 4"), (recent[0].Operator, recent[0].Action, recent[0].Outcome, recent[0].Detail));
        AssertSameTime(T0.AddMinutes(4), recent[0].At);

        Assert.Equal(1, registry.Audit.Prune(maxRows: 100, before: T0.AddMinutes(1)));
        Assert.Equal(2, registry.Audit.Prune(maxRows: 2, before: T0));
        Assert.Equal(["1.4.0", "1.3.0"], registry.Audit.Recent(10).Select(a => a.Target));
    }

    [Fact]
    public async Task Rollout_points_keep_null_accuracies_one_per_instant_and_are_pruned_by_age()
    {
        var registry = await OpenAsync();
        Assert.True(registry.RolloutPoints.Add("m", "1.1.0", new RolloutPoint(T0, null, 0.8, 0, 4)));
        Assert.True(registry.RolloutPoints.Add("m", "1.1.0", new RolloutPoint(T0.AddSeconds(10), 0.9, 0.85, 3, 6)));
        // A second instance sampling the same canary at the same instant stores nothing.
        Assert.False(registry.RolloutPoints.Add("m", "1.1.0", new RolloutPoint(T0.AddSeconds(10), 0.1, 0.1, 1, 1)));
        Assert.True(registry.RolloutPoints.Add("m", "1.2.0", new RolloutPoint(T0, 0.5, 0.5, 1, 1)));

        var points = registry.RolloutPoints.List("m", "1.1.0");
        Assert.Equal([(null, 0.8, 0, 4), (0.9, 0.85, 3, 6)], points.Select(p => (p.CanaryAccuracy, p.ControlAccuracy, p.CanaryReports, p.ControlReports)));
        AssertSameTime(T0.AddSeconds(10), points[1].At);
        Assert.Equal(2, registry.RolloutPoints.Prune(T0.AddSeconds(5)));
        Assert.Single(registry.RolloutPoints.List("m", "1.1.0"));
        Assert.Empty(registry.RolloutPoints.List("m", "1.2.0"));
    }

    [Fact]
    public async Task Rejections_are_listed_newest_first_counted_by_device_and_since_a_time()
    {
        var registry = await OpenAsync();
        registry.Rejections.Record(new RejectionRecord(T0, "pi-01", Id(1), RejectionReason.NormTooLarge, "norm 1e9 over 100"));
        registry.Rejections.Record(new RejectionRecord(T0.AddHours(1), "pi-02", Id(2), RejectionReason.NormTooLarge, "norm 1e8 over 100"));
        registry.Rejections.Record(new RejectionRecord(T0.AddHours(2), "pi-02", Id(3), RejectionReason.Expired, "made 8 days ago"));
        registry.Rejections.Record(new RejectionRecord(T0.AddHours(3), null, null, RejectionReason.Malformed, "not a delta"));

        var recent = registry.Rejections.Recent(2);
        Assert.Equal([(null, RejectionReason.Malformed), ("pi-02", RejectionReason.Expired)], recent.Select(r => (r.DeviceId, r.Reason)));
        Assert.Equal([("pi-02", 2), ("pi-01", 1)], registry.Rejections.TopDevices(10));
        Assert.Equal([("pi-02", 2)], registry.Rejections.TopDevices(1));
        Assert.Equal(3, registry.Rejections.CountSince(T0.AddHours(1)));
    }

    [Fact]
    public async Task Canaries_are_listed_newest_first_with_the_time_each_was_decided()
    {
        var registry = await OpenAsync();
        Assert.True(registry.Canaries.Start(new CanaryRecord("m", "1.1.0", "1.0.0", T0, ["pi-01"])));
        Assert.True(registry.Canaries.Start(new CanaryRecord("m", "1.2.0", "1.1.0", T0.AddHours(1), ["pi-01", "pi-02"])));
        Assert.True(registry.Canaries.Start(new CanaryRecord("other", "1.1.0", "1.0.0", T0, ["pi-09"])));
        registry.Canaries.Close("m", "1.1.0", T0.AddMinutes(30));

        var listed = registry.Canaries.List("m", 10);
        Assert.Equal(["1.2.0", "1.1.0"], listed.Select(c => c.Canary.Version));
        Assert.Null(listed[0].Decided);
        AssertSameTime(T0.AddMinutes(30), listed[1].Decided!.Value);
        Assert.Equal(["pi-01", "pi-02"], listed[0].Canary.Devices);
        Assert.Single(registry.Canaries.List("m", 1));
    }
}
