namespace ContinualLearning.Evaluation;

/// <summary>
/// The smallest thing a prequential evaluator can score (River's <c>predict_one</c>/<c>learn_one</c>):
/// predict a class index for one input, then learn from the true label.
/// </summary>
public interface IOnlineClassifier
{
    /// <summary>Predicted class index for <paramref name="x"/>.</summary>
    int Predict(ReadOnlySpan<float> x);

    /// <summary>Updates the model with one labelled example.</summary>
    void Learn(ReadOnlySpan<float> x, int y);
}

/// <summary>
/// Naive baseline: predicts the class seen most often so far (ties → lowest index; class 0 before any
/// label). It learns its counts online, so its prequential accuracy is slightly below that of the
/// "always predict the overall majority class" figure, which peeks at the whole data set.
/// </summary>
public sealed class MajorityClass : IOnlineClassifier
{
    private long[] _counts = new long[2];
    private int _best;

    /// <inheritdoc />
    public int Predict(ReadOnlySpan<float> x) => _best;

    /// <inheritdoc />
    public void Learn(ReadOnlySpan<float> x, int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        if (y >= _counts.Length)
        {
            Array.Resize(ref _counts, Math.Max(y + 1, _counts.Length * 2));
        }
        _counts[y]++;
        if (_counts[y] > _counts[_best] || (_counts[y] == _counts[_best] && y < _best))
        {
            _best = y;
        }
    }
}

/// <summary>
/// Naive "no-change" baseline: predicts the label of the previous sample (class 0 before any label).
/// Strong on streams with temporal dependence (Elec2), where a model must beat it to be useful.
/// </summary>
public sealed class LastClass : IOnlineClassifier
{
    private int _last;

    /// <inheritdoc />
    public int Predict(ReadOnlySpan<float> x) => _last;

    /// <inheritdoc />
    public void Learn(ReadOnlySpan<float> x, int y) => _last = y;
}
