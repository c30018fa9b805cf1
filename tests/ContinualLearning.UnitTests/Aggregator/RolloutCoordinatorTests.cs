using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The rollout coordinator alone: a real registry, a recording release channel, and a clock the test moves.</summary>
public sealed class RolloutCoordinatorTests : IDisposable
{
    private static readonly RolloutOptions Rollout = new() { CanaryDevices = ["c1"], MinReports = 1, MinDevices = 1, AccuracyMargin = 0.02, Window = TimeSpan.FromMinutes(5) };
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly RecordingReleaseChannel _channel = new();
    private readonly List<string> _decided = [];
    private readonly AggregatorMetrics _metrics = new();
    private readonly ModelRegistry _registry;

    public RolloutCoordinatorTests()
    {
        _registry = ModelRegistry.Open(_kit.RegistryPath, _time);
        var seed = _registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        _registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate });
        // k1 has contributed a delta: the registry knows it, so its telemetry counts as control.
        _registry.Deltas.Admit(AggregatorTestKit.Model, new PendingDelta(Guid.NewGuid().ToString("D"), "k1", "1.0.0", 10, _time.GetUtcNow(), [1]), new PendingLimits(10, 10));
    }

    public void Dispose()
    {
        _registry.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    private RolloutCoordinator Coordinator(RolloutOptions? rollout = null) =>
        new(_registry, _kit.Options(1883, "f", "agg-1", o => o with { Rollout = rollout ?? Rollout }), _channel, new Journal(_registry, _metrics, NullLogger.Instance),
            _time, NullLogger.Instance, (v, d) => _decided.Add($"{v} {d.ToText()}"));

    private ModelVersionRecord Candidate => _registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!;

    [Fact]
    public async Task A_canary_without_reports_is_rolled_back_when_its_window_has_passed()
    {
        var coordinator = Coordinator();
        await coordinator.StartAsync(Candidate, ["c1", "k1"], CancellationToken.None);
        Assert.Equal(["c1 canary"], _channel.Cohorts);
        Assert.Equal(["1.1.0 canary"], _channel.Published);

        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(RolloutVerdict.Wait, (await coordinator.CheckAsync([], CancellationToken.None))!.Verdict);
        _time.Advance(TimeSpan.FromMinutes(1));
        var decision = await coordinator.CheckAsync([], CancellationToken.None);

        Assert.Equal(RolloutVerdict.Rollback, decision!.Verdict);
        Assert.Equal(300, decision.ElapsedSeconds);
        Assert.Equal(VersionStatus.RolledBack, Candidate.Status);
        Assert.Equal(["1.1.0 canary", "1.0.0 all"], _channel.Published);
        // The rollback re-publishes the older version with a higher release sequence, so devices install it.
        Assert.True(_channel.Sequences[1] > _channel.Sequences[0], string.Join(", ", _channel.Sequences));
        Assert.Equal(_channel.Sequences, _registry.Releases.List(AggregatorTestKit.Model).Select(r => r.Sequence));
        Assert.Equal(["1.1.0 canary-started", "1.1.0 rolled-back"], _decided);
        Assert.Equal([_time.GetUtcNow().AddMinutes(-5), _time.GetUtcNow()], _registry.Decisions.List(AggregatorTestKit.Model, "1.1.0").Select(d => d.At));
        Assert.Null(coordinator.Canary);
    }

    [Fact]
    public async Task A_restarted_coordinator_resumes_the_canary_with_its_devices_and_start_time()
    {
        await Coordinator().StartAsync(Candidate, ["c1", "k1"], CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(3));

        var resumed = Coordinator();
        await resumed.ResumeAsync([], CancellationToken.None);
        Assert.Equal(["c1"], resumed.Canary!.CanaryDevices);
        Assert.Equal(_time.GetUtcNow().AddMinutes(-3), resumed.Canary.Started);
        var at = _time.GetUtcNow();
        resumed.Report(new AccuracyReport("c1", "1.1.0", 0.90, at));
        resumed.Report(new AccuracyReport("k1", "1.0.0", 0.89, at));
        var decision = await resumed.CheckAsync([], CancellationToken.None);

        Assert.Equal(RolloutVerdict.Promote, decision!.Verdict);
        Assert.Equal(180, decision.ElapsedSeconds);
        Assert.Equal(VersionStatus.Released, Candidate.Status);
        Assert.Equal(["1.1.0 canary", "1.1.0 all"], _channel.Published);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Without_a_canary_stage_the_candidate_is_released_to_all(bool canaryEnabled)
    {
        // Canary on but no online device of the cohort, or canary off: straight to all, decision "released".
        await Coordinator(Rollout with { Canary = canaryEnabled }).StartAsync(Candidate, canaryEnabled ? ["k1"] : ["c1", "k1"], CancellationToken.None);
        Assert.Equal(VersionStatus.Released, Candidate.Status);
        Assert.Equal(["1.1.0 all"], _channel.Published);
        Assert.Empty(_channel.Cohorts);
        Assert.Equal(["1.1.0 released"], _decided);
        Assert.Contains(canaryEnabled ? "no online canary device" : "canary disabled", _registry.Decisions.List(AggregatorTestKit.Model, "1.1.0").Single().Reason);
    }
}
