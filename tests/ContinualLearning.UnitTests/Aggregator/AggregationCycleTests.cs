using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Inbox;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// A round computes outside the registry transaction and commits under the model lock: two instances on one registry
/// (two connections to one SQLite file, as two processes would have) never both keep a round built on the same
/// inputs, and deltas stored while a round computes are neither used nor lost.
/// </summary>
public sealed partial class AggregationCycleTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly ModelRegistry _first;
    private readonly ModelRegistry _second;
    private readonly AggregatorMetrics _metrics = new();

    public AggregationCycleTests()
    {
        _first = ModelRegistry.Open(_kit.RegistryPath);
        _second = ModelRegistry.Open(_kit.RegistryPath);
    }

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    [Fact]
    public void A_round_whose_inputs_another_instance_used_first_keeps_nothing()
    {
        Store(_first, "d1", "d2", "d3", "d4");
        var slow = Cycle(_first).Prepare(force: true);
        Assert.NotNull(slow);

        var made = Cycle(_second).Run(force: true);
        var late = Cycle(_first).Commit(slow);

        Assert.NotNull(made);
        Assert.Null(late);
        var versions = _first.ListVersions(AggregatorTestKit.Model).Where(v => v.Version != "1.0.0").ToArray();
        Assert.Equal(made.Version, Assert.Single(versions).Version);
        Assert.Equal(4, made.DeltaIds.Count);
        Assert.Equal(0, _first.Deltas.PendingCount(AggregatorTestKit.Model));
    }

    [Fact]
    public void A_round_that_lost_only_its_dropped_deltas_to_another_instance_keeps_nothing()
    {
        Store(_first, "d1", "d2", "d3");
        var slow = Cycle(_first).Prepare(force: true);
        Assert.NotNull(slow);
        // Another round consumed one of them without making a version (as a round that drops them does).
        var taken = slow.Product.Round.Used[0].DeltaId;
        _second.InTransaction(() => _second.Deltas.Consume([taken], DeltaState.Dropped, null));

        Assert.Null(Cycle(_first).Commit(slow));
        Assert.Equal(2, _first.Deltas.PendingCount(AggregatorTestKit.Model));
        Assert.Single(_first.ListVersions(AggregatorTestKit.Model));
    }

    [Fact]
    public void Deltas_stored_while_a_round_computes_stay_buffered_for_the_next_one()
    {
        Store(_first, "d1", "d2", "d3");
        var round = Cycle(_first).Prepare(force: true);
        Assert.NotNull(round);
        Store(_second, "d4", "d5");

        var made = Cycle(_first).Commit(round);

        Assert.NotNull(made);
        Assert.Equal(["d1", "d2", "d3"], made.DeviceIds.Order(StringComparer.Ordinal));
        Assert.Equal(2, _first.Deltas.PendingCount(AggregatorTestKit.Model));
    }

    /// <summary>Changes to the kit's options for one test (e.g. a server optimiser); null keeps them.</summary>
    private Func<AggregatorOptions, AggregatorOptions>? _configure;

    private AggregatorOptions Options() => _kit.Options(1883, "f", configure: _configure);

    private AggregationCycle Cycle(ModelRegistry registry)
    {
        var options = Options();
        var journal = new Journal(registry, _metrics, NullLogger.Instance, options.Retention);
        return new AggregationCycle(registry, new ReleaseLayouts(registry, options.ModelName), options, null, journal, _metrics, TimeProvider.System, NullLogger.Instance);
    }

    private void Store(ModelRegistry registry, params string[] devices) => StoreOn(registry, "1.0.0", devices);

    private void StoreOn(ModelRegistry registry, string baseVersion, params string[] devices)
    {
        var options = Options();
        var layouts = new ReleaseLayouts(registry, options.ModelName);
        var journal = new Journal(registry, _metrics, NullLogger.Instance, options.Retention);
        var intake = new DeltaIntake(registry, new RegistryValidationContext(registry, options.ModelName, layouts), journal, options, _metrics, NullLogger.Instance, () => { });
        var verdicts = intake.Store([.. devices.Select(d => new ReceivedDelta(d, _kit.EncodeDelta(d, baseVersion)))]);
        Assert.All(verdicts, v => Assert.True(v.Accepted, v.ToString()));
    }
}
