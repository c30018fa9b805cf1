using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Server optimisers (Reddi et al. 2021, Algorithm 2; Hsu et al. 2019): one step against values worked out by hand
/// from the formulas, the SGD limits, and the state following a head that grows.
/// </summary>
public sealed class ServerOptimizerTests
{
    private static IServerOptimizer Create(ServerOptimizerKind kind, double eta = 0.1, double beta1 = 0.9) =>
        ServerOptimizers.Create(new ServerOptimizerOptions { Kind = kind, Beta1 = beta1, Beta2 = 0.99, Tau = 1e-3 }, eta);

    [Fact]
    public void Sgd_is_eta_times_delta_and_keeps_no_state()
    {
        var step = Create(ServerOptimizerKind.Sgd, eta: 0.7).Step(null, [1f, -2f, 0.3f]);
        Assert.Equal([(float)(0.7 * 1f), (float)(0.7 * -2f), (float)(0.7 * 0.3f)], step.Update);
        Assert.Null(step.State);
    }

    [Fact]
    public void FedAvgM_adds_beta_times_the_momentum_to_delta()
    {
        // m = 0.9·[1, −2] + [0.5, 0.5] = [1.4, −1.3]; step = 0.1·m.
        var state = new ServerOptimizerState(ServerOptimizerKind.FedAvgM, 3, [1f, -2f], null);
        var step = Create(ServerOptimizerKind.FedAvgM).Step(state, [0.5f, 0.5f]);
        Assert.Equal([1.4f, -1.3f], step.State!.Momentum, (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal([0.14f, -0.13f], step.Update, (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal(4, step.State.Steps);
        Assert.Null(step.State.SecondMoment);
    }

    [Fact]
    public void FedAvgM_with_beta_zero_is_sgd_round_after_round()
    {
        var rng = new Random(3);
        var momentum = Create(ServerOptimizerKind.FedAvgM, eta: 0.3, beta1: 0);
        var sgd = Create(ServerOptimizerKind.Sgd, eta: 0.3);
        ServerOptimizerState? state = null;
        for (var round = 0; round < 5; round++)
        {
            var delta = Enumerable.Range(0, 20).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var step = momentum.Step(state, delta);
            Assert.Equal(sgd.Step(null, delta).Update, step.Update);
            state = step.State;
        }
    }

    [Fact]
    public void FedAdam_one_step_matches_the_paper()
    {
        // β₁ = 0.9, β₂ = 0.99, τ = 1e-3, η = 0.1, Δ = 1:
        // m = 0.9·0.2 + 0.1·1 = 0.28, v = 0.99·0.04 + 0.01·1 = 0.0496, step = 0.1·0.28/(√0.0496 + 0.001) = 0.12516172;
        // m = 0.9·(−0.1) + 0.1 = 0.01, v = 0.99·4 + 0.01 = 3.97, step = 0.1·0.01/(√3.97 + 0.001) = 0.00050163385.
        var state = new ServerOptimizerState(ServerOptimizerKind.FedAdam, 1, [0.2f, -0.1f], [0.04f, 4f]);
        var step = Create(ServerOptimizerKind.FedAdam).Step(state, [1f, 1f]);
        Assert.Equal([0.28f, 0.01f], step.State!.Momentum, (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal([0.0496f, 3.97f], step.State.SecondMoment!, (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal(0.12516172f, step.Update[0], 1e-6f);
        Assert.Equal(0.00050163385f, step.Update[1], 1e-8f);
    }

    [Fact]
    public void FedYogi_moves_v_towards_delta_squared_by_a_fixed_fraction()
    {
        // v = v − 0.01·Δ²·sign(v − Δ²): 0.04 < 1 → 0.05; 4 > 1 → 3.99.
        // step = 0.1·0.28/(√0.05 + 0.001) = 0.1246623, 0.1·0.01/(√3.99 + 0.001) = 0.00050037567.
        var state = new ServerOptimizerState(ServerOptimizerKind.FedYogi, 1, [0.2f, -0.1f], [0.04f, 4f]);
        var step = Create(ServerOptimizerKind.FedYogi).Step(state, [1f, 1f]);
        Assert.Equal([0.05f, 3.99f], step.State!.SecondMoment!, (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal(0.1246623f, step.Update[0], 1e-6f);
        Assert.Equal(0.00050037567f, step.Update[1], 1e-8f);
    }

    [Theory]
    [InlineData(ServerOptimizerKind.FedAdam)]
    [InlineData(ServerOptimizerKind.FedYogi)]
    public void The_first_adaptive_step_starts_from_zero_moments(ServerOptimizerKind kind)
    {
        // m = 0.1·Δ, v = 0.01·Δ² (Yogi: sign(0 − Δ²) = −1 gives the same), step = 0.1·0.1·Δ/(0.1·|Δ| + 0.001).
        var step = Create(kind).Step(null, [2f, -0.5f]);
        Assert.Equal(0.1f * 0.1f * 2f / (0.1f * 2f + 0.001f), step.Update[0], 1e-6f);
        Assert.Equal(-0.1f * 0.1f * 0.5f / (0.1f * 0.5f + 0.001f), step.Update[1], 1e-6f);
        // A state another optimiser wrote is not this one's history.
        var foreign = new ServerOptimizerState(ServerOptimizerKind.FedAvgM, 7, [100f, 100f], null);
        Assert.Equal(step.Update, Create(kind).Step(foreign, [2f, -0.5f]).Update);
        Assert.Equal(1, Create(kind).Step(foreign, [2f, -0.5f]).State!.Steps);
    }

    [Fact]
    public void The_state_grows_with_the_head_zeros_for_the_new_rows_and_keeps_the_old_ones_in_place()
    {
        var layout = new OutputLayout(AggregatorTestKit.SmallHead, ["0", "1"]);
        var grown = layout.Grow(["c"]);
        var n = ParameterVector.Length(layout.Head);
        var m = Enumerable.Range(1, n).Select(i => (float)i).ToArray();
        var state = new ServerOptimizerState(ServerOptimizerKind.FedAdam, 2, m, m.Select(x => x * 10).ToArray());

        var bigger = HeadRows.Grow(state, layout, grown, 1)!;

        Assert.Equal(ParameterVector.Length(grown.Head), bigger.Length);
        var before = ParameterVector.Unflatten(m, layout.Head).ToDictionary(t => t.Name);
        var after = ParameterVector.Unflatten(bigger.Momentum, grown.Head).ToDictionary(t => t.Name);
        Assert.Equal(before["0.weight"].Data, after["0.weight"].Data);
        Assert.Equal([.. before["2.weight"].Data, 0f, 0f, 0f, 0f], after["2.weight"].Data);
        Assert.Equal([.. before["2.bias"].Data, 0f], after["2.bias"].Data);
        Assert.Equal([.. before["2.bias"].Data.Select(x => x * 10), 0f], ParameterVector.Unflatten(bigger.SecondMoment!, grown.Head).Single(t => t.Name == "2.bias").Data);
        Assert.Same(state, HeadRows.Grow(state, layout, layout, 0));
    }

    [Fact]
    public void A_round_steps_from_the_state_passed_in_and_returns_the_state_on_the_grown_head()
    {
        var layout = new OutputLayout(AggregatorTestKit.SmallHead, ["0", "1"]);
        var global = AggregatorTestKit.Weights(AggregatorTestKit.SmallHead, 1);
        var options = new AggregationOptions
        {
            Strategy = StrategyKind.FedAvg, MinDevices = 1, NewClassMinDevices = 2, ServerLearningRate = 0.5,
            ServerOptimizer = new ServerOptimizerOptions { Kind = ServerOptimizerKind.FedAvgM, Beta1 = 0.5 },
        };
        BufferedDelta Delta(string device)
        {
            var payload = LabelledDeltas.Encode(device, ["0", "1", "c"], label => label == "c" ? 0.2f : 0.1f);
            return new BufferedDelta(new PendingDelta(Guid.NewGuid().ToString("D"), device, "1.0.0", 10, DateTimeOffset.UnixEpoch, payload), 0, false, ["0", "1"]);
        }
        var n = ParameterVector.Length(layout.Head);
        var previous = new ServerOptimizerState(ServerOptimizerKind.FedAvgM, 1, Enumerable.Repeat(0.02f, n).ToArray(), null);

        var round = AggregationRound.Run(global, layout, [Delta("a"), Delta("b")], options, new ValidationOptions { MaxNorm = null }, previous);

        var grown = round.Layout!;
        Assert.Equal(["0", "1", "c"], grown.Labels);
        var m = ParameterVector.Unflatten(round.OptimizerState!.Momentum, grown.Head).ToDictionary(t => t.Name);
        // Old rows: 0.5·0.02 + 0.1; the new class's rows: 0.5·0 + 0.2.
        Assert.All(m["0.weight"].Data, v => Assert.Equal(0.5f * 0.02f + 0.01f, v, 1e-6f));
        Assert.Equal([0.11f, 0.11f, 0.2f], m["2.bias"].Data, (a, b) => Math.Abs(a - b) < 1e-6f);
        var bias = round.Weights!.Single(t => t.Name == "2.bias").Data;
        var before = global.Single(t => t.Name == "2.bias").Data;
        Assert.Equal([before[0] + 0.055f, before[1] + 0.055f, 0.1f], bias, (a, b) => Math.Abs(a - b) < 1e-6f);
        Assert.Equal(ServerOptimizerKind.FedAvgM, round.Metrics!.ServerOptimizer);
    }

    [Fact]
    public void The_default_sgd_round_is_the_release_plus_eta_times_delta_bit_for_bit_and_stores_no_state()
    {
        var layout = new OutputLayout(AggregatorTestKit.SmallHead, ["0", "1"]);
        var global = AggregatorTestKit.Weights(AggregatorTestKit.SmallHead, 1);
        var options = new AggregationOptions { Strategy = StrategyKind.FedAvg, MinDevices = 1, NewClassMinDevices = 1, ServerLearningRate = 0.3 };
        var payload = LabelledDeltas.Encode("a", ["0", "1", "c"], label => label == "c" ? 0.2f : 0.1f);
        var pending = new BufferedDelta(new PendingDelta(Guid.NewGuid().ToString("D"), "a", "1.0.0", 10, DateTimeOffset.UnixEpoch, payload), 0, false, ["0", "1"]);

        var round = AggregationRound.Run(global, layout, [pending], options, new ValidationOptions { MaxNorm = null });

        Assert.Null(round.OptimizerState);
        var w = round.Weights!.ToDictionary(t => t.Name);
        var g = global.ToDictionary(t => t.Name);
        Assert.Equal(g["0.bias"].Data.Select(x => x + (float)(0.3 * 0.01f)), w["0.bias"].Data);
        Assert.Equal([g["2.bias"].Data[0] + (float)(0.3 * 0.1f), g["2.bias"].Data[1] + (float)(0.3 * 0.1f), (float)(0.3 * 0.2f)], w["2.bias"].Data);
        Assert.DoesNotContain("serverOptimizer", round.Metrics!.ToJson(null, StrategyKind.FedAvg), StringComparison.Ordinal);
    }
}
