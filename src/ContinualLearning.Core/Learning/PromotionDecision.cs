namespace ContinualLearning.Learning;

/// <summary>Which metric a decision compares.</summary>
public enum DecisionMetric
{
    /// <summary>Holdout accuracy in [0, 1]; higher is better.</summary>
    Accuracy,

    /// <summary>Holdout mean squared error; lower is better.</summary>
    MeanSquaredError,
}

/// <summary>
/// The record of one champion/challenger run: why it ran, what it used, how both models scored on the holdout and
/// whether the challenger was promoted. Appended to the decision log (one JSON line each) whatever the outcome.
/// </summary>
public sealed record PromotionDecision
{
    /// <summary>When the run finished (UTC).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The trigger's reason ("drift", "volume", "manual: …").</summary>
    public required string TriggerReason { get; init; }

    /// <summary>"stateful" or "stateless".</summary>
    public required string Mode { get; init; }

    public required DecisionMetric Metric { get; init; }

    /// <summary>The champion's score on the holdout.</summary>
    public required double ChampionMetric { get; init; }

    /// <summary>The challenger's score on the same holdout.</summary>
    public required double ChallengerMetric { get; init; }

    /// <summary>Required improvement (accuracy points, or relative MSE reduction).</summary>
    public required double Margin { get; init; }

    /// <summary>Fresh samples trained on.</summary>
    public required int TrainSamples { get; init; }

    /// <summary>Fresh samples held out (never trained on in this run).</summary>
    public required int HoldoutSamples { get; init; }

    /// <summary>Replayed rows mixed into the micro-batches (or the replayed window, stateless).</summary>
    public required long ReplayedRows { get; init; }

    /// <summary>Optimiser steps.</summary>
    public required long Steps { get; init; }

    /// <summary>Per-sample gradient evaluations (rows over all steps).</summary>
    public required long SampleGradients { get; init; }

    /// <summary>Wall time of the training and evaluation.</summary>
    public required TimeSpan WallTime { get; init; }

    public required bool Promoted { get; init; }

    /// <summary>The champion's version when the run started.</summary>
    public required string ChampionVersion { get; init; }

    /// <summary>The version the challenger became (promoted), else null.</summary>
    public string? NewVersion { get; init; }
}
