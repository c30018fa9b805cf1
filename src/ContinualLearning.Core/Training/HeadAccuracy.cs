namespace ContinualLearning.Training;

/// <summary>
/// Classification accuracy of a head on a labelled batch: one rule for the predicted class (the highest probability,
/// ties to the lower index) wherever held-out sets are scored (the demo worlds, the keyword experiment).
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
            var row = probabilities.AsSpan(i * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++)
                if (row[c] > row[best]) best = c;
            if (best == labels[i]) correct++;
        }
        return (double)correct / n;
    }
}
