using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Inbox;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Privacy;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Privacy;

/// <summary>With central DP on, the aggregation cycle stores each version's privacy cost, composed from its parent's.</summary>
public sealed class PrivacyCycleTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly ModelRegistry _registry;
    private readonly AggregatorMetrics _metrics = new();

    public PrivacyCycleTests() => _registry = ModelRegistry.Open(_kit.RegistryPath);

    public void Dispose()
    {
        _registry.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    [Fact]
    public void Each_version_records_its_noise_and_the_lineages_epsilon()
    {
        Store("d1", "d2", "d3");
        var first = Cycle().Run(force: true);
        Assert.NotNull(first);
        Assert.True(_registry.TryTransition(AggregatorTestKit.Model, first.Version, VersionStatus.Candidate, VersionStatus.Released));
        Store("d1", "d2", "d3", "d4");
        var second = Cycle().Run(force: true);
        Assert.NotNull(second);

        var m1 = Metrics(first.MetricsJson);
        var m2 = Metrics(second.MetricsJson);
        Assert.Equal((2.0, 3.0, 3.0), (m1[PrivacyRecord.NoiseMultiplier], m1[PrivacyRecord.ClipNorm], m1[PrivacyRecord.Devices]));
        Assert.Equal(2.0 * 3.0 / 4, m2[PrivacyRecord.NoiseStd], 12);
        Assert.Equal(RdpAccountant.Epsilon(1.0, 2.0 / Math.Sqrt(2), 1, 1e-5), m2[PrivacyRecord.ModelEpsilon], 9);
    }

    private AggregatorOptions Options()
    {
        var o = _kit.Options(1883, "f");
        return o with
        {
            Aggregation = o.Aggregation with { Strategy = StrategyKind.FedAvg, Privacy = new CentralPrivacyOptions { NoiseMultiplier = 2.0 } },
            Validation = o.Validation with { MaxNorm = 3.0, NormClipMode = NormClipMode.Clip, MaxNewClasses = 0 },
        };
    }

    private AggregationCycle Cycle()
    {
        var options = Options();
        var journal = new Journal(_registry, _metrics, NullLogger.Instance, options.Retention);
        return new AggregationCycle(_registry, new ReleaseLayouts(_registry, options.ModelName), options, null, journal, _metrics, TimeProvider.System, NullLogger.Instance);
    }

    private void Store(params string[] devices)
    {
        var options = Options();
        var layouts = new ReleaseLayouts(_registry, options.ModelName);
        var journal = new Journal(_registry, _metrics, NullLogger.Instance, options.Retention);
        var intake = new DeltaIntake(_registry, new RegistryValidationContext(_registry, options.ModelName, layouts), journal, options, _metrics, NullLogger.Instance, () => { });
        var verdicts = intake.Store([.. devices.Select(d => new ReceivedDelta(d, _kit.EncodeDelta(d)))]);
        Assert.All(verdicts, v => Assert.True(v.Accepted, v.ToString()));
    }

    private static Dictionary<string, double> Metrics(string json) =>
        System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, double>>(json)!;
}
