using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>
/// The canary shared through a real PostgreSQL server by aggregator instances with nothing else in common: each has its
/// own registry connection and working directory, its own release channel and instance id. c1 is the canary cohort,
/// k1 and k2 control devices the registry knows; 1.1.0 is the candidate of the released 1.0.0.
/// </summary>
public sealed class CanaryPostgresTests : IAsyncLifetime
{
    private static readonly RolloutOptions Rollout = new() { CanaryDevices = ["c1"], MinReports = 2, MinDevices = 1, AccuracyMargin = 0.02, Window = TimeSpan.FromMinutes(5) };
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly AggregatorMetrics _metrics = new();
    private readonly List<ModelRegistry> _registries = [];
    private readonly DateTimeOffset _t0 = DateTimeOffset.UtcNow;
    private PostgresServer? _server;

    public async ValueTask InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        var registry = Open("seed");
        var seed = RegistryModels.Import(registry, Path.Combine(_kit.Root, "seed"), VersionStatus.Released).Record;
        registry.AddVersion(seed with { Version = "1.1.0", Parent = "1.0.0", Status = VersionStatus.Candidate });
        foreach (var d in new[] { "c1", "k1", "k2" })
            registry.Deltas.Admit(AggregatorTestKit.Model, new PendingDelta(Guid.NewGuid().ToString("D"), d, "1.0.0", 10, _t0, [1]), new PendingLimits(10, 10));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _registries) r.Dispose();
        if (_server is not null) await _server.DisposeAsync();
        _metrics.Dispose();
        _kit.Dispose();
    }

    private ModelRegistry Open(string workingDirectory)
    {
        var registry = ModelRegistry.Open(RegistryLocation.Postgres(_server!.ConnectionString, Path.Combine(_kit.Root, workingDirectory)));
        _registries.Add(registry);
        return registry;
    }

    private sealed record Instance(RolloutCoordinator Coordinator, RecordingReleaseChannel Channel, ModelRegistry Registry);

    private Instance NewInstance(string id)
    {
        var registry = Open(id);
        var channel = new RecordingReleaseChannel();
        var coordinator = new RolloutCoordinator(registry, _kit.Options(1883, "f", id, o => o with { Rollout = Rollout }), channel,
            new Journal(registry, _metrics, NullLogger.Instance), TimeProvider.System, NullLogger.Instance, (_, _) => { });
        return new Instance(coordinator, channel, registry);
    }

    /// <summary>A report the device made <paramref name="madeMs"/> ms after the test began, received now.</summary>
    private AccuracyReport Report(string device, string version, double accuracy, int madeMs) =>
        new(device, version, accuracy, DateTimeOffset.UtcNow, _t0.AddMilliseconds(madeMs));

    private static IEnumerable<string> Verdicts(ModelRegistry registry) =>
        registry.Decisions.List(AggregatorTestKit.Model, "1.1.0").Where(d => d.Decision is DecisionKind.Promoted or DecisionKind.RolledBack or DecisionKind.Released)
            .Select(d => d.Decision.ToText());

    [PostgresFact]
    public async Task Instance_B_adopts_and_finishes_A_canary_counting_the_telemetry_both_received_once()
    {
        var a = NewInstance("agg-a");
        var ct = TestContext.Current.CancellationToken;
        // A decides the canary and crashes before its release reaches the wire.
        a.Channel.FailPublishes = 1;
        // The publish fails: logged, left to the next tick.
        await a.Coordinator.StartAsync(a.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!, ["c1", "k1", "k2"], ct);

        var b = NewInstance("agg-b");
        Assert.Equal(RolloutVerdict.Wait, (await b.Coordinator.CheckAsync([], ct))!.Verdict);
        Assert.Equal(["c1 canary"], b.Channel.Cohorts);
        Assert.Equal(["1.1.0 canary"], b.Channel.Published); // from B's outbox tick
        // A's start time (PostgreSQL keeps microseconds), not B's.
        Assert.InRange((b.Coordinator.Canary!.Started - a.Coordinator.Canary!.Started).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));

        // Both receive every report (telemetry is not a shared subscription), and A a redelivery of each.
        var reports = new[] { Report("c1", "1.1.0", 0.80, 1), Report("c1", "1.1.0", 0.90, 2), Report("k1", "1.0.0", 0.84, 1), Report("k2", "1.0.0", 0.86, 1) };
        foreach (var r in reports)
        {
            a.Coordinator.Report(r);
            b.Coordinator.Report(r);
            a.Coordinator.Report(r with { At = r.At.AddMilliseconds(5) });
        }
        a.Registry.Dispose(); // A dies and never comes back

        var decision = await b.Coordinator.CheckAsync([], ct);

        Assert.Equal(RolloutVerdict.Promote, decision!.Verdict);
        Assert.Equal((2, 2), (decision.CanaryReports, decision.ControlReports));
        Assert.Equal(0.85, decision.CanaryAccuracy!.Value, 9);
        Assert.Equal(VersionStatus.Released, b.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!.Status);
        Assert.Equal(["1.1.0 canary", "1.1.0 all"], b.Channel.Published);
        Assert.Empty(b.Registry.Releases.Unsent(AggregatorTestKit.Model));
        Assert.Equal(["promoted"], Verdicts(b.Registry));
    }

    [PostgresFact]
    public async Task Two_instances_deciding_at_once_record_one_verdict()
    {
        var ct = TestContext.Current.CancellationToken;
        var a = NewInstance("agg-a");
        await a.Coordinator.StartAsync(a.Registry.GetVersion(AggregatorTestKit.Model, "1.1.0")!, ["c1", "k1", "k2"], ct);
        var b = NewInstance("agg-b");
        await b.Coordinator.CheckAsync([], ct);
        foreach (var r in new[] { Report("c1", "1.1.0", 0.5, 1), Report("c1", "1.1.0", 0.5, 2), Report("k1", "1.0.0", 0.9, 1), Report("k2", "1.0.0", 0.9, 1) })
            b.Coordinator.Report(r);

        var both = await Task.WhenAll(Task.Run(() => a.Coordinator.CheckAsync([], ct), ct), Task.Run(() => b.Coordinator.CheckAsync([], ct), ct));

        Assert.All(both, d => Assert.True(d is null || d.Verdict == RolloutVerdict.Rollback, d?.Reason));
        Assert.Equal(["rolled-back"], Verdicts(a.Registry));
        Assert.Equal(["1.1.0 canary", "1.0.0 all"], a.Registry.Releases.List(AggregatorTestKit.Model).Select(r => $"{r.Version} {r.Cohort}"));
        Assert.Empty(a.Registry.Releases.Unsent(AggregatorTestKit.Model));
        Assert.ThrowsAny<Exception>(() => b.Registry.Decisions.Record(AggregatorTestKit.Model, "1.1.0", DecisionKind.Promoted, "second verdict", "{}"));
    }
}
