namespace ContinualLearning.Learning;

/// <summary>How a challenger starts.</summary>
public enum LearningMode
{
    /// <summary>Fine-tune: the challenger starts from the champion's weights and trains on fresh ⊕ replay micro-batches.</summary>
    Stateful,

    /// <summary>
    /// Retrain from scratch: fresh <see cref="Training.HeadInitializer"/> weights trained on the retained window
    /// (the run's training samples plus everything in the replay buffer). The baseline to compare stateful learning with.
    /// </summary>
    Stateless,
}

/// <summary>
/// Settings of one champion/challenger run. Defaults: 64–1024 fresh samples per run, micro-batches of 32 with half of
/// each batch replayed, one pass, the most recent 20 % of the run's fresh samples held out, and promotion only when
/// the challenger beats the champion by 0.5 accuracy points (classification) or has a lower holdout MSE (regression).
/// </summary>
public sealed record ChallengerOptions
{
    /// <summary>Fewest fresh labelled samples a run needs (train + holdout). Default 64.</summary>
    public int MinSamples { get; init; } = 64;

    /// <summary>Most fresh samples a run takes. Default 1024.</summary>
    public int MaxSamples { get; init; } = 1024;

    /// <summary>Rows per micro-batch (fresh + replayed). Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Passes over the run's training samples. Default 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Share of each micro-batch drawn from the replay buffer, in [0, 1). Default 0.5.</summary>
    public double ReplayRatio { get; init; } = 0.5;

    /// <summary>Share of the run's fresh samples — the most recent ones — held out for evaluation, in (0, 1). Default 0.2.</summary>
    public double HoldoutFraction { get; init; } = 0.2;

    /// <summary>
    /// Classification: the challenger's holdout accuracy must exceed the champion's by at least this (absolute; 0.005 =
    /// half a point). Default 0.005.
    /// </summary>
    public double AccuracyMargin { get; init; } = 0.005;

    /// <summary>
    /// Regression: the challenger's holdout MSE must be below the champion's × (1 − this). Default 0 (strictly lower).
    /// </summary>
    public double MseRelativeMargin { get; init; }

    public LearningMode Mode { get; init; } = LearningMode.Stateful;

    /// <summary>Seed of batch shuffling, replay draws and (stateless) initial weights; each run mixes in its run number.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field, its value and the rule.</summary>
    public void Validate()
    {
        static void Check(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"Learning option '{field}' = {value} is invalid: {rule}.", field);
        }

        Check(MinSamples >= 2, nameof(MinSamples), MinSamples, "must be at least 2 (one to train, one to hold out)");
        Check(MaxSamples >= MinSamples, nameof(MaxSamples), MaxSamples, $"must be >= MinSamples ({MinSamples})");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(ReplayRatio is >= 0 and < 1, nameof(ReplayRatio), ReplayRatio, "must be in [0, 1)");
        Check(HoldoutFraction is > 0 and < 1, nameof(HoldoutFraction), HoldoutFraction, "must be in (0, 1), e.g. 0.2");
        Check(double.IsFinite(AccuracyMargin) && AccuracyMargin is >= -1 and <= 1, nameof(AccuracyMargin), AccuracyMargin, "must be in [-1, 1], e.g. 0.005 for half a point");
        Check(MseRelativeMargin is >= 0 and < 1, nameof(MseRelativeMargin), MseRelativeMargin, "must be in [0, 1)");
        Check(Enum.IsDefined(Mode), nameof(Mode), Mode, "must be Stateful or Stateless");
    }
}
