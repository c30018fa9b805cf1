namespace ContinualLearning.Drift;

/// <summary>
/// A change detector over a univariate stream, typically a classifier's 0/1 error stream
/// (1 = the prediction was wrong). The River shape: feed one value with <see cref="Update"/>,
/// then read the flags. The flags describe the value just fed: after a drift the detector
/// restarts on its own at the next <see cref="Update"/>, so callers never have to reset it.
/// </summary>
public interface IDriftDetector
{
    /// <summary>Feeds one observation (for error streams: 1 = error, 0 = correct).</summary>
    void Update(double x);

    /// <summary>True when the last <see cref="Update"/> signalled a change.</summary>
    bool DriftDetected { get; }

    /// <summary>True when the last <see cref="Update"/> put the detector in its warning zone (detectors without one always return false).</summary>
    bool WarningDetected { get; }

    /// <summary>Forgets everything seen so far.</summary>
    void Reset();

    /// <summary>Short name with parameters, for logs and reports (e.g. <c>ADWIN(delta=0.002)</c>).</summary>
    string Name { get; }
}

/// <summary>Argument checks shared by the detectors, so every bad parameter gets the same kind of actionable message.</summary>
internal static class DetectorArgs
{
    public static void Require(bool ok, string name, double value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Drift detector parameter '{name}' = {value} is invalid: {rule}.");
        }
    }

    public static void RequireFinite(double x)
    {
        if (!double.IsFinite(x))
        {
            throw new ArgumentException($"Drift detector input {x} is not a finite number; feed 0/1 errors or another finite statistic.", nameof(x));
        }
    }
}
