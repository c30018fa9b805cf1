using System.Text.Json;
using ContinualLearning.Bundle;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;

namespace ContinualLearning.Aggregator.Holdout;

/// <summary>The holdout gate's verdict on a candidate and the numbers behind it.</summary>
internal sealed record HoldoutVerdict(double Candidate, double Current, double Margin, int Samples)
{
    /// <summary>The candidate passes unless it is worse than the current global by more than the margin.</summary>
    public bool Pass => Candidate >= Current - Margin;

    public DecisionKind Decision => Pass ? DecisionKind.HoldoutPass : DecisionKind.HoldoutFail;

    public string Reason => $"holdout accuracy {Candidate:F4} vs current {Current:F4} (margin {Margin:F4})";

    public string NumbersJson => JsonSerializer.Serialize(
        new Dictionary<string, double> { ["candidate"] = Candidate, ["current"] = Current, ["margin"] = Margin, ["samples"] = Samples },
        AggregatorJson.Default.DictionaryStringDouble);
}

/// <summary>Candidate vs current global on a labelled holdout set (<see cref="HoldoutOptions"/>), with the managed engine.</summary>
internal sealed class HoldoutGate(IReadOnlyList<Sample> samples, double margin)
{
    public HoldoutVerdict Judge(ModelManifest manifest, IReadOnlyList<NamedTensor> current, IReadOnlyList<NamedTensor> candidate)
    {
        var candidateAccuracy = HoldoutEvaluator.Accuracy(manifest, candidate, samples);
        var currentAccuracy = HoldoutEvaluator.Accuracy(manifest, current, samples);
        return new HoldoutVerdict(candidateAccuracy, currentAccuracy, margin, samples.Count);
    }
}
