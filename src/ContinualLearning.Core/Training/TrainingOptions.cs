namespace ContinualLearning.Training;

/// <summary>Optimiser kinds. Both follow PyTorch's definitions exactly (torch.optim.SGD / torch.optim.Adam), so engines agree.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with optional momentum (dampening 0, no Nesterov) and L2 weight decay added to the gradient.</summary>
    Sgd,
    /// <summary>Adam with bias correction; weight decay is L2 added to the gradient (not AdamW).</summary>
    Adam,
}

/// <summary>Training hyper-parameters (defaults are what a manifest gets when it names none).</summary>
public sealed record TrainingOptions
{
    /// <summary>SGD or Adam.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    /// <summary>Step size.</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>SGD momentum (0 = none).</summary>
    public float Momentum { get; init; }
    /// <summary>L2 weight decay added to the gradient.</summary>
    public float WeightDecay { get; init; }
    /// <summary>Adam's first-moment decay.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>Adam's second-moment decay.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Adam's denominator epsilon.</summary>
    public float Epsilon { get; init; } = 1e-8f;

    /// <summary>Throws with the offending field and value when a hyper-parameter is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string field, float value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(field, value, $"Training option '{field}' = {value} is invalid: {rule}.");
        }
        Check(float.IsFinite(LearningRate) && LearningRate > 0, nameof(LearningRate), LearningRate, "must be a finite number > 0");
        Check(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Check(float.IsFinite(WeightDecay) && WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must be >= 0");
        Check(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Check(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Check(Epsilon > 0 && float.IsFinite(Epsilon), nameof(Epsilon), Epsilon, "must be > 0");
    }
}

/// <summary>
/// Elastic Weight Consolidation penalty: <c>λ/2 · Σ F_i (θ_i − θ*_i)²</c> added to the loss,
/// with a diagonal Fisher F estimated on the replay buffer and θ* the weights it was estimated at.
/// </summary>
public sealed record EwcPenalty(IReadOnlyList<Tensors.NamedTensor> Anchor, IReadOnlyList<Tensors.NamedTensor> Fisher, float Lambda);
