using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 13: the canary lives in the registry, not in the instance that started it. Two "instances" are two coordinators
/// with their own registry objects (their own SQLite connections) on one registry file, their own release channels and
/// instance ids; c1 is the canary cohort, k1 and k2 control devices the registry knows.
/// </summary>
public sealed class CanaryPersistenceTests : IDisposable
{
    private static readonly RolloutOptions Rollout = new() { CanaryDevices = ["c1"], MinReports = 2, MinDevices = 1, AccuracyMargin = 0.02, Window = TimeSpan.FromMinutes(5) };
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly AggregatorMetrics _metrics = new();
    private readonly List<ModelRegistry> _registries = [];

    public CanaryPersistenceTests()
    {
        var registry = Open();
        var seed = registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate });
        foreach (var d in new[] { "c1", "k1", "k2" })
            registry.Deltas.Admit(AggregatorTestKit.Model, new PendingDelta(Guid.NewGuid().ToString("D"), d, "1.0.0", 10, _time.GetUtcNow(), [1]), new PendingLimits(10, 10));
    }

    public void Dispose()
    {
        foreach (var r in _registries) r.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    private ModelRegistry Open()
    {
        var registry = ModelRegistry.Open(_kit.RegistryPath, _time);
        _registries.Add(registry);
        return registry;
    }

    private sealed record Instance(RolloutCoordinator Coordinator, RecordingReleaseChannel Channel, ModelRegistry Registry, List<string> Decided);

    /// <summary>An aggregator instance: its own registry connection, channel and id.</summary>
    private Instance NewInstance(string id)
    {
        var registry = Open();
        var channel = new RecordingReleaseChannel();
        var decided = new List<string>();
        var coordinator = new RolloutCoordinator(registry, _kit.Options(1883, "f", id, o => o with { Rollout = Rollout }), channel,
            new Journal(registry, _metrics, NullLogger.Instance), _time, NullLogger.Instance, (v, d) => decided.Add($"{v} {d.ToText()}"));
        return new Instance(coordinator, channel, registry, decided);
    }

    private async Task<Instance> StartCanaryAsync(string id = "agg-a")
    {
        var a = NewInstance(id);
        await a.Coordinator.StartAsync(a.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!, ["c1", "k1", "k2"], CancellationToken.None);
        Assert.Equal(VersionStatus.Canary, Status(a.Registry));
        return a;
    }

    private static string Status(ModelRegistry registry) => registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.Status;

    /// <summary>A report the device made <paramref name="madeSecondsAfterStart"/> s into the canary, received now.</summary>
    private AccuracyReport At(string device, string version, double accuracy, int madeSecondsAfterStart) =>
        new(device, version, accuracy, _time.GetUtcNow(), new DateTimeOffset(2025, 6, 1, 12, 0, madeSecondsAfterStart, TimeSpan.Zero));

    private static IEnumerable<string> Verdicts(ModelRegistry registry) =>
        registry.Decisions.List(AggregatorTestKit.Model, "1.1.0").Where(d => d.Decision is DecisionKind.Promoted or DecisionKind.RolledBack or DecisionKind.Released)
            .Select(d => d.Decision.ToText());

    [Fact]
    public async Task A_restart_keeps_the_reports_counted_before_it()
    {
        var a = await StartCanaryAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
        a.Coordinator.Report(At("c1", "1.1.0", 0.90, 1));
        a.Coordinator.Report(At("c1", "1.1.0", 0.92, 2));
        a.Coordinator.Report(At("k1", "1.0.0", 0.89, 1));
        Assert.Equal(RolloutVerdict.Wait, (await a.Coordinator.CheckAsync([], CancellationToken.None))!.Verdict);
        a.Registry.Dispose(); // the instance goes away

        // The restarted instance counts one more control report on top of the three from before: enough to decide.
        var restarted = NewInstance("agg-a");
        await restarted.Coordinator.ResumeAsync([], CancellationToken.None);
        restarted.Coordinator.Report(At("k1", "1.0.0", 0.91, 3));
        var decision = await restarted.Coordinator.CheckAsync([], CancellationToken.None);

        Assert.Equal(RolloutVerdict.Promote, decision!.Verdict);
        Assert.Equal((2, 2), (decision.CanaryReports, decision.ControlReports));
        Assert.Equal(0.91, decision.CanaryAccuracy!.Value, 9);
        Assert.Equal(0.90, decision.ControlAccuracy!.Value, 9);
        Assert.Equal(VersionStatus.Released, Status(restarted.Registry));
        Assert.Empty(restarted.Registry.Canaries.Reports(AggregatorTestKit.Model, "1.1.0")); // dropped once decided: rows bounded by devices
    }

    [Fact]
    public async Task Two_instances_receiving_the_same_telemetry_count_it_once()
    {
        var a = await StartCanaryAsync();
        var b = NewInstance("agg-b");
        await b.Coordinator.CheckAsync([], CancellationToken.None); // adopts the canary
        Assert.Equal("1.1.0", b.Coordinator.Canary!.CandidateVersion);

        // Telemetry is not a shared subscription: both instances receive every report, a QoS 1 redelivery comes twice.
        var reports = new[] { At("c1", "1.1.0", 0.80, 1), At("k1", "1.0.0", 0.90, 1), At("k2", "1.0.0", 0.70, 1), At("c1", "1.1.0", 0.60, 2) };
        var outcomes = new List<ReportOutcome>();
        foreach (var r in reports)
        {
            outcomes.Add(a.Coordinator.Canary!.Add(r));
            outcomes.Add(b.Coordinator.Canary.Add(r));
            outcomes.Add(a.Coordinator.Canary.Add(r with { At = r.At.AddSeconds(1) }));
        }
        // Forged reports reach both instances too: tallied by each, counted once in the figure.
        foreach (var i in Enumerable.Range(0, 3))
        {
            a.Coordinator.Report(At("ghost", "1.0.0", 0.1, i));
            b.Coordinator.Report(At("ghost", "1.0.0", 0.1, i));
        }

        Assert.Equal(reports.Length, outcomes.Count(o => o == ReportOutcome.Counted));
        Assert.Equal(reports.Length * 2, outcomes.Count(o => o == ReportOutcome.Repeated));
        var decision = b.Coordinator.Canary.Decide(Rollout with { MinReports = 10 }, _time.GetUtcNow());
        Assert.Equal((2, 2, 1, 2), (decision.CanaryReports, decision.ControlReports, decision.CanaryDevices, decision.ControlDevices));
        Assert.Equal(0.70, decision.CanaryAccuracy!.Value, 9);
        Assert.Equal(0.80, decision.ControlAccuracy!.Value, 9);
        Assert.Equal(3, a.Coordinator.Canary!.Decide(Rollout, _time.GetUtcNow()).IgnoredReports);
    }

    [Fact]
    public async Task Instance_B_finishes_the_canary_instance_A_started_after_A_died()
    {
        var a = await StartCanaryAsync();
        Assert.Equal(["1.1.0 canary"], a.Channel.Published);
        _time.Advance(TimeSpan.FromMinutes(1));
        a.Coordinator.Report(At("c1", "1.1.0", 0.70, 1));
        a.Registry.Dispose(); // A dies and never comes back

        var b = NewInstance("agg-b");
        Assert.Equal(RolloutVerdict.Wait, (await b.Coordinator.CheckAsync([], CancellationToken.None))!.Verdict);
        Assert.Equal(a.Coordinator.Canary!.Started, b.Coordinator.Canary!.Started);
        Assert.Equal(["c1"], b.Coordinator.Canary.CanaryDevices);
        b.Coordinator.Report(At("c1", "1.1.0", 0.72, 2));
        b.Coordinator.Report(At("k1", "1.0.0", 0.90, 1));
        b.Coordinator.Report(At("k2", "1.0.0", 0.92, 1));
        var decision = await b.Coordinator.CheckAsync([], CancellationToken.None);

        Assert.Equal(RolloutVerdict.Rollback, decision!.Verdict);
        Assert.Equal(60, decision.ElapsedSeconds); // A's start time, not B's
        Assert.Equal(VersionStatus.RolledBack, Status(b.Registry));
        Assert.Equal(["1.0.0 all"], b.Channel.Published);
        Assert.Equal(["1.1.0 rolled-back"], b.Decided);
        Assert.Equal(["rolled-back"], Verdicts(b.Registry));
        Assert.Null(b.Coordinator.Canary);
    }

    [Fact]
    public async Task A_crash_between_the_decision_and_the_publish_is_published_by_the_next_tick_of_another_instance()
    {
        var a = NewInstance("agg-a");
        a.Channel.FailPublishes = 1;
        // The publish fails: logged, left to the next tick.
        await a.Coordinator.StartAsync(a.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!, ["c1", "k1"], CancellationToken.None);
        // Committed: the version is on canary with its release allocated, but nothing reached the wire.
        Assert.Equal(VersionStatus.Canary, Status(a.Registry));
        var allocated = Assert.Single(a.Registry.Releases.Unsent(AggregatorTestKit.Model));
        Assert.Empty(a.Channel.Published);

        var b = NewInstance("agg-b");
        await b.Coordinator.CheckAsync([], CancellationToken.None);
        Assert.Equal(["c1 canary"], b.Channel.Cohorts); // told first, or c1 would ignore a canary release
        Assert.Equal(["1.1.0 canary"], b.Channel.Published);
        Assert.Equal([allocated.Sequence], b.Channel.Sequences);
        Assert.Empty(b.Registry.Releases.Unsent(AggregatorTestKit.Model));

        // The same at the verdict: B promotes, its publish fails; A's next tick puts the promotion on the wire.
        b.Coordinator.Report(At("c1", "1.1.0", 0.9, 1));
        b.Coordinator.Report(At("c1", "1.1.0", 0.9, 2));
        b.Coordinator.Report(At("k1", "1.0.0", 0.9, 1));
        b.Coordinator.Report(At("k2", "1.0.0", 0.9, 1));
        b.Channel.FailPublishes = 1;
        // The publish fails: logged, left to the next tick.
        await b.Coordinator.CheckAsync([], CancellationToken.None);
        Assert.Equal(VersionStatus.Released, Status(b.Registry));
        Assert.Equal("1.1.0", Assert.Single(b.Registry.Releases.Unsent(AggregatorTestKit.Model)).Version);
        await a.Coordinator.CheckAsync([], CancellationToken.None);
        Assert.Equal(["1.1.0 all"], a.Channel.Published);
        Assert.Empty(a.Registry.Releases.Unsent(AggregatorTestKit.Model));
        await b.Coordinator.CheckAsync([], CancellationToken.None);
        Assert.Equal(["1.1.0 canary"], b.Channel.Published); // nothing published twice once it is marked sent
    }

    [Fact]
    public async Task A_candidate_left_behind_by_a_crash_is_started_by_another_instance()
    {
        // The instance that aggregated 1.1.0 died before starting its rollout; aggregation waits for it.
        var b = NewInstance("agg-b");
        await b.Coordinator.CheckAsync(["c1", "k1"], CancellationToken.None);
        Assert.Equal(VersionStatus.Canary, Status(b.Registry));
        Assert.Equal(["1.1.0 canary"], b.Channel.Published);
        Assert.NotNull(b.Coordinator.Canary);
    }

    [Fact]
    public async Task No_version_gets_two_verdicts_when_two_instances_decide_at_once()
    {
        var a = await StartCanaryAsync();
        var b = NewInstance("agg-b");
        await b.Coordinator.CheckAsync([], CancellationToken.None);
        foreach (var r in new[] { At("c1", "1.1.0", 0.9, 1), At("c1", "1.1.0", 0.9, 2), At("k1", "1.0.0", 0.9, 1), At("k2", "1.0.0", 0.9, 1) })
            a.Coordinator.Report(r);

        var both = await Task.WhenAll(
            Task.Run(() => a.Coordinator.CheckAsync([], CancellationToken.None)),
            Task.Run(() => b.Coordinator.CheckAsync([], CancellationToken.None)));

        // Each saw Promote, or (when the other had already decided) no canary at all; only one acted on it.
        Assert.All(both, d => Assert.True(d is null || d.Verdict == RolloutVerdict.Promote, d?.Reason));
        Assert.Equal(["promoted"], Verdicts(a.Registry));
        Assert.Single(a.Decided.Concat(b.Decided), d => d == "1.1.0 promoted");
        Assert.Equal(["1.1.0 canary", "1.1.0 all"], a.Registry.Releases.List(AggregatorTestKit.Model).Select(r => $"{r.Version} {r.Cohort}"));
        // And the registry itself refuses a second verdict on a version, whatever the code above it does.
        Assert.ThrowsAny<Exception>(() => a.Registry.Decisions.Record(AggregatorTestKit.Model, "1.1.0", DecisionKind.RolledBack, "second verdict", "{}"));
    }
}
