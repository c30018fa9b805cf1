using ContinualLearning.Streams;

namespace ContinualLearning.Evaluation;

/// <summary>Accuracy on a held-out sample of an earlier concept before and after the model adapted to a later one.</summary>
internal sealed record ForgettingResult(double AccuracyBefore, double AccuracyAfter)
{
    /// <summary>Accuracy lost on the old concept (positive = forgot).</summary>
    public double Forgetting => AccuracyBefore - AccuracyAfter;

    /// <summary>Backward transfer (Lopez-Paz &amp; Ranzato 2017): after − before; negative = forgetting.</summary>
    public double BackwardTransfer => AccuracyAfter - AccuracyBefore;
}

/// <summary>Forgetting / backward-transfer measurement on held-out data (prediction only, the model does not learn from it).</summary>
internal static class Forgetting
{
    /// <summary>Accuracy of <paramref name="model"/> on <paramref name="heldOut"/> without learning.</summary>
    public static double Accuracy(IOnlineClassifier model, IEnumerable<Sample> heldOut)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(heldOut);
        long n = 0, correct = 0;
        foreach (var s in heldOut)
        {
            n++;
            correct += model.Predict(s.Features) == s.Label ? 1 : 0;
        }
        if (n == 0)
        {
            throw new ArgumentException("The held-out set is empty; pass samples of the earlier concept.", nameof(heldOut));
        }
        return (double)correct / n;
    }

    /// <summary>Scores the held-out set, runs <paramref name="adapt"/> (e.g. train on the new concept), scores again.</summary>
    public static ForgettingResult Measure(IOnlineClassifier model, IReadOnlyCollection<Sample> heldOutOldConcept, Action adapt)
    {
        ArgumentNullException.ThrowIfNull(adapt);
        var before = Accuracy(model, heldOutOldConcept);
        adapt();
        return new ForgettingResult(before, Accuracy(model, heldOutOldConcept));
    }
}
