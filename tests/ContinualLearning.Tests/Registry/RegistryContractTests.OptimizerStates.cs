using ContinualLearning.Aggregator.Optimizers;

namespace ContinualLearning.Tests.Registry;

/// <summary>The server optimiser's state per version (docs/federated.md, "Server optimisers and Krum").</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task Optimizer_states_round_trip_bit_for_bit_per_model_and_version()
    {
        var registry = await OpenAsync();
        float[] m = [0.25f, -1e-30f, float.Epsilon, 3.4e38f, -0f];
        float[] v = [1f, 2f, 3f, 4f, 5f];
        registry.OptimizerStates.Put("m", "1.1.0", new ServerOptimizerState(ServerOptimizerKind.FedAdam, 7, m, v));
        registry.OptimizerStates.Put("m", "1.2.0", new ServerOptimizerState(ServerOptimizerKind.FedAvgM, 1, [9f], null));
        registry.OptimizerStates.Put("other", "1.1.0", new ServerOptimizerState(ServerOptimizerKind.FedYogi, 2, [8f], [8f]));

        var adam = registry.OptimizerStates.Get("m", "1.1.0")!;
        Assert.Equal((ServerOptimizerKind.FedAdam, 7L), (adam.Kind, adam.Steps));
        Assert.Equal(m.Select(BitConverter.SingleToInt32Bits), adam.Momentum.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(v, adam.SecondMoment);
        var momentum = registry.OptimizerStates.Get("m", "1.2.0")!;
        Assert.Equal(ServerOptimizerKind.FedAvgM, momentum.Kind);
        Assert.Equal([9f], momentum.Momentum);
        Assert.Null(momentum.SecondMoment);
        Assert.Equal(ServerOptimizerKind.FedYogi, registry.OptimizerStates.Get("other", "1.1.0")!.Kind);
        Assert.Null(registry.OptimizerStates.Get("m", "9.9.9"));
        Assert.Null(registry.OptimizerStates.Get("none", "1.1.0"));
    }

    [Fact]
    public async Task An_optimizer_state_is_replaced_seen_by_a_second_host_and_forgotten_by_version()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        first.OptimizerStates.Put("m", "1.1.0", new ServerOptimizerState(ServerOptimizerKind.FedAvgM, 1, [1f, 2f], null));
        second.OptimizerStates.Put("m", "1.1.0", new ServerOptimizerState(ServerOptimizerKind.FedAdam, 2, [3f, 4f], [5f, 6f]));
        first.OptimizerStates.Put("m", "1.2.0", new ServerOptimizerState(ServerOptimizerKind.FedAdam, 3, [0f, 0f], [0f, 0f]));

        var replaced = first.OptimizerStates.Get("m", "1.1.0")!;
        Assert.Equal((ServerOptimizerKind.FedAdam, 2L), (replaced.Kind, replaced.Steps));
        Assert.Equal([3f, 4f], replaced.Momentum);
        Assert.Equal([5f, 6f], replaced.SecondMoment!);
        // Written in a transaction that fails: not stored.
        Assert.Throws<InvalidOperationException>(() => first.InTransaction(() =>
        {
            first.OptimizerStates.Put("m", "1.3.0", new ServerOptimizerState(ServerOptimizerKind.FedAvgM, 1, [1f], null));
            throw new InvalidOperationException("the round failed");
        }));
        Assert.Null(second.OptimizerStates.Get("m", "1.3.0"));

        Assert.Equal(1, second.OptimizerStates.Forget("m", ["1.1.0", "9.9.9"]));
        Assert.Null(first.OptimizerStates.Get("m", "1.1.0"));
        Assert.NotNull(first.OptimizerStates.Get("m", "1.2.0"));
        Assert.Throws<ArgumentException>(() => first.OptimizerStates.Put("m", "1.4.0", new ServerOptimizerState(ServerOptimizerKind.FedAdam, 1, [1f, 2f], [1f])));
    }
}
