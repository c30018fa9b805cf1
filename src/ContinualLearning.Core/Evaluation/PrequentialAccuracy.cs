namespace ContinualLearning.Evaluation;

/// <summary>
/// Accuracy of a test-then-train stream, three ways: overall since the start, over a sliding window
/// of the last <see cref="WindowSize"/> predictions, and fading (each older prediction weighted by
/// α per step, Gama et al. 2013), which tracks the present without a window buffer.
/// </summary>
public sealed class PrequentialAccuracy
{
    private readonly bool[] _window;
    private int _windowNext;
    private int _windowCount;
    private int _windowCorrect;
    private double _fadingCorrect;
    private double _fadingCount;

    /// <param name="windowSize">Sliding window length.</param>
    /// <param name="fadingFactor">α in (0, 1]; 0.999 weights roughly the last 1000 predictions.</param>
    public PrequentialAccuracy(int windowSize = 1000, double fadingFactor = 0.999)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        if (fadingFactor is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(fadingFactor), fadingFactor, "Fading factor must be in (0, 1], e.g. 0.999.");
        }
        _window = new bool[windowSize];
        FadingFactor = fadingFactor;
    }

    /// <summary>Length of the sliding window, in predictions.</summary>
    public int WindowSize => _window.Length;
    /// <summary>α of the fading accuracy.</summary>
    public double FadingFactor { get; }

    /// <summary>Predictions scored so far.</summary>
    public long Count { get; private set; }

    /// <summary>Correct predictions so far.</summary>
    public long Correct { get; private set; }

    /// <summary>Correct / Count (0 before any prediction).</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;

    /// <summary>Accuracy over the last <see cref="WindowSize"/> predictions (fewer at the start).</summary>
    public double WindowedAccuracy => _windowCount == 0 ? 0 : (double)_windowCorrect / _windowCount;

    /// <summary>Fading accuracy Σα^k c_{t−k} / Σα^k.</summary>
    public double FadingAccuracy => _fadingCount == 0 ? 0 : _fadingCorrect / _fadingCount;

    /// <summary>True when the window is full, so <see cref="WindowedAccuracy"/> covers <see cref="WindowSize"/> predictions.</summary>
    public bool WindowFull => _windowCount == _window.Length;

    /// <summary>Scores one prediction.</summary>
    public void Update(int yTrue, int yPredicted)
    {
        var correct = yTrue == yPredicted;
        Count++;
        Correct += correct ? 1 : 0;
        if (_windowCount == _window.Length)
        {
            _windowCorrect -= _window[_windowNext] ? 1 : 0;
        }
        else
        {
            _windowCount++;
        }
        _window[_windowNext] = correct;
        _windowCorrect += correct ? 1 : 0;
        _windowNext = (_windowNext + 1) % _window.Length;
        _fadingCorrect = FadingFactor * _fadingCorrect + (correct ? 1 : 0);
        _fadingCount = FadingFactor * _fadingCount + 1;
    }
}
