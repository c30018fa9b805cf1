namespace ContinualLearning.Training;

/// <summary>
/// Classification accuracy of a head on a labelled batch, with the learner's rule for the predicted class
/// (<see cref="Learning.ChallengerTrainer.PredictedClass"/>: the highest probability, ties to the lower index) wherever
/// held-out sets are scored (the demo worlds, the keyword experiment).
/// </summary>
public static class HeadAccuracy
{
    /// <summary>
    /// Fraction of the <c>labels.Length</c> rows of <paramref name="x"/> (row-major, <see cref="HeadSpec.InputSize"/>
    /// wide) whose predicted class is the label; 0 for no rows.
    /// </summary>
    public static double Of(IHeadModel head, ReadOnlySpan<float> x, ReadOnlySpan<int> labels)
    {
        ArgumentNullException.ThrowIfNull(head);
        var n = labels.Length;
        if (n == 0) return 0;
        var classes = head.Spec.OutputSize;
        var probabilities = new float[n * classes];
        head.Predict(x, n, probabilities);
        var correct = 0;
        for (var i = 0; i < n; i++)
        {
            if (Learning.ChallengerTrainer.PredictedClass(head.Spec, probabilities.AsSpan(i * classes, classes)) == labels[i]) correct++;
        }
        return (double)correct / n;
    }
}
