namespace ContinualLearning.Aggregator.Optimizers;

/// <summary>
/// How the server turns a round's aggregate Δ (the pseudo-gradient, Reddi et al. 2021) into the step added to the global
/// weights. Independent of the combining rule: any <see cref="Strategies.StrategyKind"/> can be followed by any optimiser.
/// </summary>
public enum ServerOptimizerKind
{
    /// <summary>global += η·Δ: plain FedAvg's server step (the default; no state).</summary>
    Sgd,

    /// <summary>Server momentum (Hsu et al. 2019): m = β₁·m + Δ, global += η·m.</summary>
    FedAvgM,

    /// <summary>Adam on the server (Reddi et al. 2021, Algorithm 2): v = β₂·v + (1 − β₂)·Δ².</summary>
    FedAdam,

    /// <summary>Yogi on the server (Reddi et al. 2021, Algorithm 2): v = v − (1 − β₂)·Δ²·sign(v − Δ²).</summary>
    FedYogi,
}

/// <summary>Parameters of the server optimiser (η is <see cref="AggregationOptions.ServerLearningRate"/>).</summary>
public sealed record ServerOptimizerOptions
{
    public ServerOptimizerKind Kind { get; init; } = ServerOptimizerKind.Sgd;

    /// <summary>β₁ in [0, 1): momentum (FedAvgM) or first-moment decay (FedAdam, FedYogi).</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>β₂ in [0, 1): second-moment decay (FedAdam, FedYogi).</summary>
    public double Beta2 { get; init; } = 0.99;

    /// <summary>τ &gt; 0: the adaptivity (FedAdam, FedYogi): added to √v, it bounds the step where v is small.</summary>
    public double Tau { get; init; } = 1e-3;
}

/// <summary>
/// What a server optimiser remembers between rounds, laid out like the flattened head of the version that produced it
/// (<see cref="Strategies.ParameterVector"/>): the first moment (momentum) and, for the adaptive ones, the second moment.
/// Stored in the registry with that version, so the next round — on any host, after any restart, after a rollback — starts
/// from the state of the release it builds on.
/// </summary>
/// <param name="Kind">The optimiser that wrote it; another optimiser starts from zeros instead.</param>
/// <param name="Steps">Rounds that went into it.</param>
/// <param name="Momentum">m.</param>
/// <param name="SecondMoment">v; null for FedAvgM.</param>
public sealed record ServerOptimizerState(ServerOptimizerKind Kind, long Steps, float[] Momentum, float[]? SecondMoment)
{
    /// <summary>The number of parameters it covers.</summary>
    public int Length => Momentum.Length;
}

/// <summary>One step: what to add to the global weights, and the state to store with the version it makes (null: none).</summary>
internal readonly record struct ServerStep(float[] Update, ServerOptimizerState? State);

/// <summary>
/// A server optimiser as a pure function: (state, Δ) → (step, new state). No I/O, no hidden state: the round passes the
/// parent version's state in and returns the new one with its result.
/// </summary>
internal interface IServerOptimizer
{
    ServerOptimizerKind Kind { get; }

    /// <summary>
    /// The step for aggregate <paramref name="delta"/> given <paramref name="state"/> (null, or one of another optimiser or
    /// length, is taken as zeros: the first round).
    /// </summary>
    ServerStep Step(ServerOptimizerState? state, float[] delta);
}
