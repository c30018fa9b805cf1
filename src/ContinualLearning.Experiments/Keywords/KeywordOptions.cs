using ContinualLearning.Pipelines;
using ContinualLearning.Replay;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// Settings of the keyword experiment: which voices and words the base model knows, how it is trained, and how a
/// device adapts (the same head, optimiser and budget for every strategy so the comparison isolates the update rule).
/// Defaults are the tuned settings docs/experiments.md reports.
/// </summary>
public sealed record KeywordOptions
{
    /// <summary>Voice families (espeak-ng accents) the base model is trained on; the others are "new" families.</summary>
    public IReadOnlyList<string> BaseFamilies { get; init; } = ["en-us", "en-gb", "en-gb-x-rp", "en-gb-x-gbclan", "en-us-nyc"];

    /// <summary>
    /// Voice variants the base model hears (empty = all). When set, a new family is its accent spoken by the other
    /// variants only: a harder shift (e.g. base on male variants, device with female ones).
    /// </summary>
    public IReadOnlyList<string> BaseVariants { get; init; } = [];

    /// <summary>Words the base model knows; corpus words not listed here are candidates for new keywords.</summary>
    public IReadOnlyList<string> BaseWords { get; init; } = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"];

    /// <summary>Keywords a device learns in the class-incremental scenario (the head grows one output each).</summary>
    public IReadOnlyList<string> NewWords { get; init; } = ["zero", "hello"];

    /// <summary>Labelled clips per word a device gets (one run per value).</summary>
    public IReadOnlyList<int> Shots { get; init; } = [1, 5, 10];

    /// <summary>
    /// How a clip's window embeddings become the head input. Mean: in the pooling study (docs/experiments.md) it tied
    /// mean+max within a standard deviation on every held-out set with half the head input.
    /// </summary>
    public PoolMode Pool { get; init; } = PoolMode.Mean;

    /// <summary>Hidden layer sizes of the head (empty = a linear head).</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [64];

    /// <summary>Epochs of base training on the base families' training clips.</summary>
    public int BaseEpochs { get; init; } = 60;

    /// <summary>Adam learning rate of base training.</summary>
    public float BaseLearningRate { get; init; } = 3e-3f;

    /// <summary>Passes over the device's labelled clips per adaptation (every updating strategy).</summary>
    public int AdaptEpochs { get; init; } = 30;

    /// <summary>Adam learning rate on the device.</summary>
    public float AdaptLearningRate { get; init; } = 1e-3f;

    /// <summary>Micro-batch size.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Embeddings of the base training clips a device keeps for latent replay.</summary>
    public int ReplayCapacity { get; init; } = 500;

    /// <summary>Share of each micro-batch drawn from replay, in [0, 1).</summary>
    public double ReplayRatio { get; init; } = 0.75;

    /// <summary>Admission policy of the replay buffer.</summary>
    public ReplayPolicyKind ReplayPolicy { get; init; } = ReplayPolicyKind.ClassBalanced;

    /// <summary>λ of the EWC penalty (anchored at the base weights; Fisher on replayed samples).</summary>
    public float EwcLambda { get; init; } = 1000f;

    /// <summary>Replayed samples the Fisher diagonal is estimated on.</summary>
    public int FisherSamples { get; init; } = 200;

    /// <summary>Seeds: each draws its own data split, base initialisation, device clips and batch order.</summary>
    public IReadOnlyList<int> Seeds { get; init; } = [1, 2, 3];

    /// <summary>Adam settings of the base training.</summary>
    internal TrainingOptions BaseTraining => new() { LearningRate = BaseLearningRate };

    /// <summary>Adam settings on the device.</summary>
    internal TrainingOptions AdaptTraining => new() { LearningRate = AdaptLearningRate };

    /// <summary>Throws naming the setting and value when out of range.</summary>
    public void Validate()
    {
        static void Require(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, $"Keyword option '{name}' = {value} is invalid: {rule}.");
        }
        Require(BaseFamilies.Count >= 1, nameof(BaseFamilies), BaseFamilies.Count, "give at least one base voice family");
        Require(BaseWords.Count >= 2, nameof(BaseWords), BaseWords.Count, "the base model needs at least two words");
        Require(!NewWords.Intersect(BaseWords).Any(), nameof(NewWords), string.Join(",", NewWords), "new keywords must not be base words");
        Require(Shots.Count >= 1 && Shots.All(k => k >= 1), nameof(Shots), string.Join(",", Shots), "give clip counts of at least 1");
        Require(Hidden.All(h => h >= 1), nameof(Hidden), string.Join(",", Hidden), "layer sizes must be positive");
        Require(BaseEpochs >= 1, nameof(BaseEpochs), BaseEpochs, "it must be at least 1");
        Require(AdaptEpochs >= 1, nameof(AdaptEpochs), AdaptEpochs, "it must be at least 1");
        Require(float.IsFinite(BaseLearningRate) && BaseLearningRate > 0, nameof(BaseLearningRate), BaseLearningRate, "it must be positive");
        Require(float.IsFinite(AdaptLearningRate) && AdaptLearningRate > 0, nameof(AdaptLearningRate), AdaptLearningRate, "it must be positive");
        Require(BatchSize >= 1, nameof(BatchSize), BatchSize, "it must be at least 1");
        Require(ReplayCapacity >= 1, nameof(ReplayCapacity), ReplayCapacity, "it must be at least 1");
        Require(ReplayRatio is >= 0 and < 1, nameof(ReplayRatio), ReplayRatio, "it must be in [0, 1)");
        Require(float.IsFinite(EwcLambda) && EwcLambda >= 0, nameof(EwcLambda), EwcLambda, "it must be a finite number >= 0");
        Require(FisherSamples >= 1, nameof(FisherSamples), FisherSamples, "it must be at least 1");
        Require(Seeds.Count >= 1, nameof(Seeds), Seeds.Count, "give at least one seed");
    }
}
