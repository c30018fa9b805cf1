using ContinualLearning.Bundle;
using ContinualLearning.Replay;
using ContinualLearning.Tensors;

namespace ContinualLearning.Learning;

/// <summary>
/// One served prediction. <see cref="SampleId"/> is the id to send the label back with.
/// Classification: <see cref="LabelIndex"/>/<see cref="LabelName"/> is the arg-max class and
/// <see cref="Probabilities"/> one probability per class. Regression: LabelIndex −1, LabelName null and
/// <see cref="Probabilities"/> holds the predicted values.
/// </summary>
public sealed record Prediction(long SampleId, int LabelIndex, string? LabelName, float[] Probabilities, string ModelVersion);

/// <summary>Outcome of a training run: the recorded decision and the fresh sample ids it consumed.</summary>
public sealed record TrainingRunResult(PromotionDecision Decision, IReadOnlyList<long> UsedSampleIds)
{
    /// <summary>True when the challenger became champion.</summary>
    public bool Promoted => Decision.Promoted;
}

/// <summary>Raised after a challenger was promoted and checkpointed. The daemon turns it into a delta (champion − base).</summary>
public sealed class PromotedEventArgs : EventArgs
{
    /// <summary>The promoted champion's version (<c>&lt;base&gt;-local.&lt;n&gt;</c>).</summary>
    public required string NewVersion { get; init; }

    /// <summary>The global release the champion descends from (the delta's reference).</summary>
    public required string BaseVersion { get; init; }

    /// <summary>The new champion's head weights (copies; state_dict order).</summary>
    public required IReadOnlyList<NamedTensor> ChampionWeights { get; init; }

    /// <summary>
    /// The base release's head weights (copies; state_dict order) with the output rows aligned to the champion's: the
    /// base row of the same label name, zeros for a class the base lacks (added on the device), so
    /// <c>champion − base</c> is the device's learning row by row.
    /// </summary>
    public required IReadOnlyList<NamedTensor> BaseWeights { get; init; }

    /// <summary>The champion's label names in output-row order (empty for regression).</summary>
    public IReadOnlyList<string> LabelNames { get; init; } = [];

    /// <summary>The base release's label names in output-row order (empty for regression).</summary>
    public IReadOnlyList<string> BaseLabelNames { get; init; } = [];

    /// <summary>True when the champion's label set differs from the base release's (classes added on the device).</summary>
    public bool LabelsDifferFromBase => !LabelNames.SequenceEqual(BaseLabelNames, StringComparer.Ordinal);

    /// <summary>
    /// The head's personal tensors (<see cref="LearnerOptions.PersonalLayers"/>; empty when off): they stay on the device,
    /// so the delta carries only the other tensors (<see cref="SharedWeights"/>).
    /// </summary>
    public IReadOnlySet<string> PersonalTensors { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Base and champion weights without the personal tensors: what the delta is computed from.</summary>
    public (IReadOnlyList<NamedTensor> Base, IReadOnlyList<NamedTensor> Champion) SharedWeights() =>
        (Training.PersonalLayers.Shared(BaseWeights, PersonalTensors), Training.PersonalLayers.Shared(ChampionWeights, PersonalTensors));

    /// <summary>Fresh samples the run used (train + holdout).</summary>
    public required int SamplesUsed { get; init; }

    /// <summary>The decision, with both holdout metrics.</summary>
    public required PromotionDecision Decision { get; init; }

    /// <summary>
    /// What <see cref="ContinualLearner.RunScorer"/> measured on the run's fresh samples before the run trained on them
    /// (a device's cluster report, <see cref="Deltas.ClusterReport"/>); null when there is no scorer.
    /// </summary>
    public IReadOnlyDictionary<string, double>? RunMetrics { get; init; }
}

/// <summary>
/// What a run scorer (<see cref="ContinualLearner.RunScorer"/>) is given before a run trains: the run's fresh labelled
/// samples (head inputs, oldest first: the newest samples the device has, not trained on yet), the champion the run
/// starts from (trained on older samples only) and the global release it descends from.
/// </summary>
public sealed record RunScoring(IReadOnlyList<TrainingSample> Fresh, ModelBundle Champion, ModelBundle Base);

/// <summary>Raised when a drift detector fires.</summary>
public sealed class DriftDetectedEventArgs : EventArgs
{
    /// <summary>The detector ("ADWIN(delta=0.002)" or "features: f1, f3").</summary>
    public required string Source { get; init; }

    /// <summary>When it fired (the learner's clock).</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>Windowed accuracy when it fired (NaN before any label).</summary>
    public required double WindowedAccuracy { get; init; }
}

/// <summary>A snapshot of the learner for status reports.</summary>
public sealed record LearnerStatus
{
    /// <summary>The served model's name.</summary>
    public required string ModelName { get; init; }

    /// <summary>The champion's version.</summary>
    public required string ModelVersion { get; init; }

    /// <summary>The installed global release the champion descends from.</summary>
    public required string BaseVersion { get; init; }

    /// <summary>The champion a rollback would restore; null when there is none.</summary>
    public string? PreviousVersion { get; init; }

    /// <summary>Training engine name ("managed", "torch").</summary>
    public required string Engine { get; init; }

    /// <summary>Stateful (fine-tune the champion) or stateless (retrain from scratch).</summary>
    public required LearningMode Mode { get; init; }

    /// <summary>True while learning is paused (serving and labelling continue).</summary>
    public required bool Paused { get; init; }

    /// <summary>True while a challenger trains.</summary>
    public required bool Training { get; init; }

    /// <summary>Predictions served since the learner opened (labelled arrivals not included; see <see cref="ContinualLearner.Counters"/>).</summary>
    public required long Predictions { get; init; }

    /// <summary>Labels joined plus samples that arrived labelled, since the learner opened.</summary>
    public required long Labelled { get; init; }

    /// <summary>Sample rows in the transient store (pending + fresh + taken).</summary>
    public required long StoredSamples { get; init; }

    /// <summary>Labelled samples waiting for a run.</summary>
    public required long FreshSamples { get; init; }

    /// <summary>Samples held in the replay buffer.</summary>
    public required int ReplaySize { get; init; }

    /// <summary>Training runs started since the learner opened (cancelled ones included).</summary>
    public required long TrainingRuns { get; init; }

    /// <summary>Challengers promoted since the learner opened.</summary>
    public required long Promotions { get; init; }

    /// <summary>Drift alarms since the learner opened.</summary>
    public required long DriftAlarms { get; init; }

    /// <summary>Prequential accuracy over the last <see cref="LearnerOptions.AccuracyWindow"/> labelled predictions; null before any.</summary>
    public double? WindowedAccuracy { get; init; }

    /// <summary>Labelled predictions in <see cref="WindowedAccuracy"/>.</summary>
    public required long WindowedSamples { get; init; }

    /// <summary>
    /// Prequential accuracy over the last <see cref="LearnerOptions.AccuracyWindow"/> labelled predictions made since
    /// the installed global release (<see cref="BaseVersion"/>) was installed, local promotions on top of it included;
    /// null before any. Unlike <see cref="WindowedAccuracy"/> it does not restart with a local promotion.
    /// </summary>
    public double? ReleaseWindowedAccuracy { get; init; }

    /// <summary>Labelled predictions in <see cref="ReleaseWindowedAccuracy"/>.</summary>
    public long ReleaseWindowedSamples { get; init; }

    /// <summary>True when drift was detected since the last run.</summary>
    public required bool DriftPending { get; init; }

    /// <summary>The error-stream detector's name.</summary>
    public required string DriftDetector { get; init; }

    /// <summary>The last run's decision; null before the first run since the learner opened.</summary>
    public PromotionDecision? LastDecision { get; init; }
}
