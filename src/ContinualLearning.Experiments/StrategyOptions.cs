using ContinualLearning.Replay;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments;

/// <summary>The continual-learning strategies an experiment can compare.</summary>
public enum StrategyKind
{
    /// <summary>Train once on the first <see cref="StrategyOptions.WarmUp"/> samples, then frozen.</summary>
    NoUpdate,
    /// <summary>Every U samples retrain from scratch on the last W samples for E epochs.</summary>
    Stateless,
    /// <summary>Every U samples continue training the current weights on those U samples only.</summary>
    Stateful,
    /// <summary>Stateful, with each micro-batch mixing fresh samples and samples from a replay buffer.</summary>
    Replay,
    /// <summary>Replay plus an EWC penalty with a diagonal Fisher estimated on the replay buffer.</summary>
    Ewc,
}

/// <summary>Names of <see cref="StrategyKind"/> as the CLI spells them.</summary>
public static class StrategyNames
{
    /// <summary>CLI spelling → kind, in the order results are reported.</summary>
    public static IReadOnlyList<(string Name, StrategyKind Kind)> All { get; } =
    [
        ("none", StrategyKind.NoUpdate),
        ("stateless", StrategyKind.Stateless),
        ("stateful", StrategyKind.Stateful),
        ("replay", StrategyKind.Replay),
        ("ewc", StrategyKind.Ewc),
    ];

    /// <summary>The CLI name of a kind.</summary>
    public static string Of(StrategyKind kind) => All.First(p => p.Kind == kind).Name;

    /// <summary>
    /// Parses "all" or a comma list such as "stateless,replay". Throws <see cref="ArgumentException"/> naming the
    /// unknown value and the allowed ones.
    /// </summary>
    public static IReadOnlyList<StrategyKind> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var allowed = "all, " + string.Join(", ", All.Select(p => p.Name));
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
            throw new ArgumentException($"--strategy is empty; allowed values: {allowed} (comma-separated).");
        if (parts.Length == 1 && parts[0].Equals("all", StringComparison.OrdinalIgnoreCase))
            return [.. All.Select(p => p.Kind)];
        var result = new List<StrategyKind>();
        foreach (var part in parts)
        {
            var match = All.Where(p => p.Name.Equals(part, StringComparison.OrdinalIgnoreCase)).Select(p => (StrategyKind?)p.Kind).FirstOrDefault()
                ?? throw new ArgumentException($"--strategy value '{part}' is not a strategy; allowed values: {allowed} (comma-separated).");
            if (!result.Contains(match)) result.Add(match);
        }
        return result;
    }
}

/// <summary>
/// Hyper-parameters shared by the strategies. Defaults are the ones docs/experiments.md reports; every
/// strategy uses the same head, optimiser and learning rate so the comparison isolates the update rule.
/// </summary>
public sealed record StrategyOptions
{
    /// <summary>Hidden layer sizes of the MLP head (input and output sizes come from the stream).</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [32];

    /// <summary>Optimiser settings (Adam by default).</summary>
    public TrainingOptions Training { get; init; } = new() { LearningRate = 0.01f };

    /// <summary>Micro-batch size.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>U: samples between two updates (all updating strategies).</summary>
    public int UpdateEvery { get; init; } = 100;

    /// <summary>N: samples the no-update strategy trains on before it freezes.</summary>
    public int WarmUp { get; init; } = 1000;

    /// <summary>E for training from scratch (no-update warm-up, stateless retrain).</summary>
    public int Epochs { get; init; } = 20;

    /// <summary>W: samples the stateless strategy keeps and retrains on.</summary>
    public int Window { get; init; } = 2000;

    /// <summary>Passes over each update's batches for the stateful strategies.</summary>
    public int FineTuneEpochs { get; init; } = 1;

    /// <summary>Replay buffer capacity (samples).</summary>
    public int ReplayCapacity { get; init; } = 1000;

    /// <summary>Fraction of each micro-batch drawn from the replay buffer, in [0, 1).</summary>
    public double ReplayRatio { get; init; } = 0.5;

    /// <summary>Admission policy of the replay buffer.</summary>
    public ReplayPolicyKind ReplayPolicy { get; init; } = ReplayPolicyKind.Reservoir;

    /// <summary>λ of the EWC penalty.</summary>
    public float EwcLambda { get; init; } = 100f;

    /// <summary>Replay samples the Fisher diagonal is estimated on at each update (each costs one sample-gradient).</summary>
    public int FisherSamples { get; init; } = 128;

    /// <summary>Seed of weights, shuffling and replay sampling.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws with the offending field and value when a setting is out of range.</summary>
    public void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"Strategy option '{name}' = {value} is invalid: it must be at least 1.");
        }
        Positive(BatchSize, nameof(BatchSize));
        Positive(UpdateEvery, nameof(UpdateEvery));
        Positive(WarmUp, nameof(WarmUp));
        Positive(Epochs, nameof(Epochs));
        Positive(Window, nameof(Window));
        Positive(FineTuneEpochs, nameof(FineTuneEpochs));
        Positive(ReplayCapacity, nameof(ReplayCapacity));
        Positive(FisherSamples, nameof(FisherSamples));
        foreach (var h in Hidden) Positive(h, nameof(Hidden));
        if (!(ReplayRatio >= 0 && ReplayRatio < 1))
            throw new ArgumentOutOfRangeException(nameof(ReplayRatio), ReplayRatio, $"Strategy option 'ReplayRatio' = {ReplayRatio} is invalid: it must be in [0, 1).");
        if (!(EwcLambda >= 0 && float.IsFinite(EwcLambda)))
            throw new ArgumentOutOfRangeException(nameof(EwcLambda), EwcLambda, $"Strategy option 'EwcLambda' = {EwcLambda} is invalid: it must be a finite number >= 0.");
        Training.Validate();
    }
}
