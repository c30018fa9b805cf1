using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The server optimiser's state lives in the registry with the version it made: the next round, by this instance or
/// another on the same registry, starts from the state of the release it builds on — after a rollback, the older one's.
/// </summary>
public sealed partial class AggregationCycleTests
{
    [Fact]
    public void Optimizer_state_is_stored_with_each_version_read_by_another_instance_and_follows_a_rollback()
    {
        const string Model = AggregatorTestKit.Model;
        _configure = o => o with
        {
            Aggregation = o.Aggregation with
            {
                Strategy = StrategyKind.FedAvg,
                ServerOptimizer = new ServerOptimizerOptions { Kind = ServerOptimizerKind.FedAvgM, Beta1 = 0.5 },
            },
        };
        // FedAvgM, β = 0.5: every delta is 0.01 everywhere, so m is 0.01, then 0.5·0.01 + 0.01 = 0.015.
        StoreOn(_first, "1.0.0", "d1", "d2", "d3");
        var v1 = Cycle(_first).Run(force: true)!;
        AssertMomentum(_second, v1.Version, 0.01f);
        Assert.True(_first.TryTransition(Model, v1.Version, VersionStatus.Candidate, VersionStatus.Released));

        StoreOn(_second, v1.Version, "d1", "d2", "d3");
        var v2 = Cycle(_second).Run(force: true)!;
        Assert.Equal(v1.Version, v2.Parent);
        AssertMomentum(_first, v2.Version, 0.015f);

        // v2 rolled back: the next round builds on v1 again, from v1's state (0.015), not v2's (which would give 0.0175).
        Assert.True(_first.TryTransition(Model, v2.Version, VersionStatus.Candidate, VersionStatus.RolledBack));
        StoreOn(_first, v1.Version, "d1", "d2", "d3");
        var v3 = Cycle(_first).Run(force: true)!;
        Assert.Equal(v1.Version, v3.Parent);
        AssertMomentum(_second, v3.Version, 0.015f);
        Assert.Equal((double)ServerOptimizerKind.FedAvgM, System.Text.Json.JsonDocument.Parse(v3.MetricsJson).RootElement.GetProperty("serverOptimizer").GetDouble());
    }

    private static void AssertMomentum(ModelRegistry registry, string version, float expected)
    {
        var state = registry.OptimizerStates.Get(AggregatorTestKit.Model, version);
        Assert.NotNull(state);
        Assert.Equal(ServerOptimizerKind.FedAvgM, state.Kind);
        Assert.Equal(ParameterVector.Length(AggregatorTestKit.SmallHead), state.Length);
        Assert.All(state.Momentum, m => Assert.Equal(expected, m, 1e-6f));
    }
}
