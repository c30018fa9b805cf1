using System.Text.Json;
using ContinualLearning.Bundle;
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

/// <summary>
/// Candidate vs current global on a labelled holdout set (<see cref="HoldoutOptions"/>), with the managed engine. A
/// candidate that admitted new classes is run with its own, longer head; the holdout's label indices stay valid because
/// new classes are appended. The set has no samples of a class new to the fleet, so a prediction of one counts as an
/// error: the gate measures what admitting the class costs the classes the release already had. Both models must take
/// what the set holds: the cycle calls <see cref="CheckFits"/> on the release before a round writes anything (a candidate
/// keeps its parent's pipeline), so a release with another pipeline leaves its deltas buffered rather than judged on
/// embeddings the release would never compute.
/// </summary>
internal sealed class HoldoutGate(HoldoutSet set, double margin)
{
    /// <summary>Throws unless the set was made for <paramref name="release"/>'s pipeline (checked before a round writes anything).</summary>
    public void CheckFits(ModelManifest release) => set.CheckFits(release);

    public HoldoutVerdict Judge(ModelManifest currentManifest, IReadOnlyList<NamedTensor> current, ModelManifest candidateManifest, IReadOnlyList<NamedTensor> candidate)
    {
        var candidateAccuracy = HoldoutEvaluator.Accuracy(candidateManifest, candidate, set.Samples);
        var currentAccuracy = HoldoutEvaluator.Accuracy(currentManifest, current, set.Samples);
        return new HoldoutVerdict(candidateAccuracy, currentAccuracy, margin, set.Samples.Count);
    }
}
