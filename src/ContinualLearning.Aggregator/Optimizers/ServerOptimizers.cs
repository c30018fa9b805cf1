namespace ContinualLearning.Aggregator.Optimizers;

/// <summary>The server optimisers by <see cref="ServerOptimizerKind"/>, built with η and their parameters.</summary>
internal static class ServerOptimizers
{
    public static IServerOptimizer Create(ServerOptimizerOptions options, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Kind switch
        {
            ServerOptimizerKind.Sgd => new SgdServerOptimizer(learningRate),
            ServerOptimizerKind.FedAvgM => new FedAvgMOptimizer(learningRate, options.Beta1),
            ServerOptimizerKind.FedAdam or ServerOptimizerKind.FedYogi => new AdaptiveServerOptimizer(options.Kind, learningRate, options.Beta1, options.Beta2, options.Tau),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Kind, $"No server optimiser is registered for {options.Kind}; use sgd, fed-avg-m, fed-adam or fed-yogi."),
        };
    }

    /// <summary>The previous moment when <paramref name="state"/> was written by <paramref name="kind"/> for this length; zeros otherwise.</summary>
    internal static float[] Previous(ServerOptimizerState? state, ServerOptimizerKind kind, int length, bool second)
    {
        var values = state is { } s && s.Kind == kind && s.Length == length ? (second ? s.SecondMoment : s.Momentum) : null;
        return values is not null && values.Length == length ? values : new float[length];
    }

    internal static void RequireDecay(double beta, string name)
    {
        if (!(beta >= 0 && beta < 1))
            throw new ArgumentOutOfRangeException(name, beta, $"{name} must be in [0, 1).");
    }
}

/// <summary>global += η·Δ: the server step without an optimiser, bit for bit what the round did before optimisers existed.</summary>
internal sealed class SgdServerOptimizer(double learningRate) : IServerOptimizer
{
    public ServerOptimizerKind Kind => ServerOptimizerKind.Sgd;

    public ServerStep Step(ServerOptimizerState? state, float[] delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var update = new float[delta.Length];
        for (var i = 0; i < delta.Length; i++) update[i] = (float)(learningRate * delta[i]);
        return new ServerStep(update, null);
    }
}

/// <summary>
/// FedAvgM (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data Distribution"; Flower's <c>fedavgm.py</c>):
/// m = β·m + Δ, global += η·m. With β = 0 it is <see cref="SgdServerOptimizer"/>; in a steady state the step is η/(1 − β)
/// times Δ, so η is usually lowered by (1 − β).
/// </summary>
internal sealed class FedAvgMOptimizer : IServerOptimizer
{
    private readonly double _learningRate;
    private readonly double _momentum;

    public FedAvgMOptimizer(double learningRate, double momentum)
    {
        ServerOptimizers.RequireDecay(momentum, "beta1");
        _learningRate = learningRate;
        _momentum = momentum;
    }

    public ServerOptimizerKind Kind => ServerOptimizerKind.FedAvgM;

    public ServerStep Step(ServerOptimizerState? state, float[] delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var previous = ServerOptimizers.Previous(state, Kind, delta.Length, second: false);
        var m = new float[delta.Length];
        var update = new float[delta.Length];
        for (var i = 0; i < delta.Length; i++)
        {
            var mi = _momentum * previous[i] + delta[i];
            m[i] = (float)mi;
            update[i] = (float)(_learningRate * mi);
        }
        return new ServerStep(update, new ServerOptimizerState(Kind, Steps(state) + 1, m, null));
    }

    private long Steps(ServerOptimizerState? state) => state is { } s && s.Kind == Kind ? s.Steps : 0;
}

/// <summary>
/// FedAdam and FedYogi (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2; Flower's <c>fedadam.py</c>,
/// <c>fedyogi.py</c>): m = β₁·m + (1 − β₁)·Δ; v = β₂·v + (1 − β₂)·Δ² (Adam) or v − (1 − β₂)·Δ²·sign(v − Δ²) (Yogi);
/// global += η·m / (√v + τ). As in the paper there is no bias correction; m and v start at zero (Flower's choice; the
/// paper's analysis assumes v₋₁ ≥ τ², and with τ &gt; 0 a zero v still divides safely).
/// </summary>
internal sealed class AdaptiveServerOptimizer : IServerOptimizer
{
    private readonly double _learningRate;
    private readonly double _beta1;
    private readonly double _beta2;
    private readonly double _tau;

    public AdaptiveServerOptimizer(ServerOptimizerKind kind, double learningRate, double beta1, double beta2, double tau)
    {
        if (kind is not (ServerOptimizerKind.FedAdam or ServerOptimizerKind.FedYogi))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Only fed-adam and fed-yogi are adaptive.");
        ServerOptimizers.RequireDecay(beta1, nameof(beta1));
        ServerOptimizers.RequireDecay(beta2, nameof(beta2));
        if (!(tau > 0) || !double.IsFinite(tau))
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "tau must be a finite number > 0.");
        Kind = kind;
        _learningRate = learningRate;
        _beta1 = beta1;
        _beta2 = beta2;
        _tau = tau;
    }

    public ServerOptimizerKind Kind { get; }

    public ServerStep Step(ServerOptimizerState? state, float[] delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var previousM = ServerOptimizers.Previous(state, Kind, delta.Length, second: false);
        var previousV = ServerOptimizers.Previous(state, Kind, delta.Length, second: true);
        var m = new float[delta.Length];
        var v = new float[delta.Length];
        var update = new float[delta.Length];
        for (var i = 0; i < delta.Length; i++)
        {
            double d = delta[i];
            var squared = d * d;
            var mi = _beta1 * previousM[i] + (1 - _beta1) * d;
            var vi = Kind == ServerOptimizerKind.FedAdam
                ? _beta2 * previousV[i] + (1 - _beta2) * squared
                : previousV[i] - (1 - _beta2) * squared * Math.Sign(previousV[i] - squared);
            m[i] = (float)mi;
            v[i] = (float)vi;
            update[i] = (float)(_learningRate * mi / (Math.Sqrt(vi) + _tau));
        }
        var steps = state is { } s && s.Kind == Kind ? s.Steps : 0;
        return new ServerStep(update, new ServerOptimizerState(Kind, steps + 1, m, v));
    }
}
