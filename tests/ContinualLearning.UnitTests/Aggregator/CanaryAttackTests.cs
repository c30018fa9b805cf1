using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 11, "the canary gate can be forced": forged telemetry replayed against the rollout coordinator (a real registry,
/// a recording release channel). The devices c1–c3 and k1–k3 have contributed deltas, so the registry knows them.
/// </summary>
public sealed class CanaryAttackTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly AggregatorMetrics _metrics = new();
    private readonly ModelRegistry _registry;

    public CanaryAttackTests()
    {
        _registry = ModelRegistry.Open(_kit.RegistryPath, _time);
        var seed = _registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        _registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate });
        foreach (var d in new[] { "c1", "c2", "c3", "k1", "k2", "k3" })
            _registry.Deltas.Admit(AggregatorTestKit.Model, new PendingDelta(Guid.NewGuid().ToString("D"), d, "1.0.0", 10, _time.GetUtcNow(), [1]), new PendingLimits(100, 10));
    }

    public void Dispose()
    {
        _registry.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    private RolloutCoordinator Coordinator(RolloutOptions rollout) =>
        new(_registry, _kit.Options(1883, "f", "agg-1", o => o with { Rollout = rollout }), new RecordingReleaseChannel(),
            new Journal(_registry, _metrics, NullLogger.Instance), _time, NullLogger.Instance, (_, _) => { });

    /// <summary>A coordinator running 1.1.0 on the canary cohort <paramref name="canary"/>, the other devices on 1.0.0.</summary>
    private async Task<RolloutCoordinator> CanaryOnAsync(params string[] canary)
    {
        var coordinator = Coordinator(new RolloutOptions { CanaryDevices = canary, MinReports = 3, AccuracyMargin = 0.02, Window = TimeSpan.FromMinutes(10) });
        await coordinator.StartAsync(_registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!, ["c1", "c2", "c3", "k1", "k2", "k3"], CancellationToken.None);
        Assert.Equal(canary, coordinator.Canary!.CanaryDevices.Order());
        return coordinator;
    }

    // A report is identified by its device and its time, so each one here is made a millisecond after the one before.
    private void Report(RolloutCoordinator coordinator, string device, string version, double accuracy)
    {
        _time.Advance(TimeSpan.FromMilliseconds(1));
        coordinator.Report(new AccuracyReport(device, version, accuracy, _time.GetUtcNow()));
    }

    private string CandidateStatus => _registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.Status;

    [Fact]
    public async Task Attack_forged_accuracy_reports_cannot_promote_a_canary()
    {
        // Main promoted on these three reports with "canary accuracy 3.3E+299".
        var coordinator = await CanaryOnAsync("c1", "c2", "c3");
        foreach (var k in new[] { "k1", "k2", "k3" }) Report(coordinator, k, "1.0.0", 0.85);
        Report(coordinator, "c1", "1.1.0", 0.1);
        Report(coordinator, "c2", "1.1.0", 0.1);
        Report(coordinator, "c3", "1.1.0", 1e300);
        Report(coordinator, "c3", "1.1.0", double.NaN);
        Report(coordinator, "c3", "1.1.0", -3);

        var decision = await coordinator.CheckAsync([], CancellationToken.None);

        Assert.NotEqual(RolloutVerdict.Promote, decision!.Verdict);
        Assert.NotEqual(VersionStatus.Released, CandidateStatus);
        Assert.Equal(3, decision.IgnoredReports);
        Assert.True(decision.CanaryAccuracy is null or <= 1, $"canary accuracy {decision.CanaryAccuracy}");
    }

    [Fact]
    public async Task Attack_one_device_reporting_many_times_counts_once()
    {
        // Main counted reports: ten from c1 met minReports 3 on their own, and their mean outweighed c2.
        var coordinator = await CanaryOnAsync("c1", "c2");
        foreach (var k in new[] { "k1", "k2", "k3" }) Report(coordinator, k, "1.0.0", 0.85);
        for (var i = 0; i < 10; i++) Report(coordinator, "c1", "1.1.0", 0.99);

        var alone = await coordinator.CheckAsync([], CancellationToken.None);
        Assert.Equal(RolloutVerdict.Wait, alone!.Verdict);
        Assert.Equal(1, alone.CanaryDevices);

        Report(coordinator, "c2", "1.1.0", 0.5);
        var decision = await coordinator.CheckAsync([], CancellationToken.None);
        // Median of the two devices (0.99, 0.5) = 0.745, not the report mean 0.945.
        Assert.Equal(RolloutVerdict.Rollback, decision!.Verdict);
        Assert.Equal(0.745, decision.CanaryAccuracy!.Value, 9);
        Assert.Equal(VersionStatus.RolledBack, CandidateStatus);
    }

    [Fact]
    public async Task Attack_reports_from_unknown_devices_are_ignored()
    {
        // Ten invented control devices report 0.1 to drag the control below a worse canary; main counted them all.
        var coordinator = await CanaryOnAsync("c1", "c2");
        for (var g = 0; g < 10; g++) Report(coordinator, $"ghost-{g}", "1.0.0", 0.1);
        foreach (var k in new[] { "k1", "k2", "k1" }) Report(coordinator, k, "1.0.0", 0.85);
        foreach (var c in new[] { "c1", "c2", "c1" }) Report(coordinator, c, "1.1.0", 0.80);

        var decision = await coordinator.CheckAsync([], CancellationToken.None);

        Assert.Equal(RolloutVerdict.Rollback, decision!.Verdict);
        Assert.Equal(2, decision.ControlDevices);
        Assert.Equal(10, decision.IgnoredReports);
        Assert.Equal(0.85, decision.ControlAccuracy!.Value, 9);
    }

    [Fact]
    public async Task Online_devices_the_registry_does_not_know_are_never_chosen_for_the_canary()
    {
        // A retained status is enough to look online; with a canary fraction of 1 every known online device is chosen.
        var coordinator = Coordinator(new RolloutOptions { CanaryFraction = 1.0 });
        await coordinator.StartAsync(_registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!, ["ghost-1", "ghost-2", "c1", "k1"], CancellationToken.None);
        Assert.Equal(["c1", "k1"], coordinator.Canary!.CanaryDevices.Order());
    }
}
