namespace ContinualLearning.Drift;

/// <summary>
/// Page-Hinkley test for an increase of the mean (Page 1954; as in Gama et al. 2013 and River):
/// m_t = α·m_{t−1} + (x_t − x̄_t − δ), M_t = min m, drift when m_t − M_t &gt; λ.
/// On an error stream an increase of the mean is a drop in accuracy, the only direction we act on.
/// </summary>
public sealed class PageHinkley : IDriftDetector
{
    private long _n;
    private double _mean;
    private double _sum;
    private double _min;
    private bool _restartPending;

    /// <param name="delta">Magnitude of change tolerated: deviations below it are treated as noise.</param>
    /// <param name="threshold">λ: the cumulative deviation that raises an alarm (higher = fewer false alarms, later detection).</param>
    /// <param name="alpha">Fading factor of the cumulative sum (1 = no fading).</param>
    /// <param name="minInstances">No alarm before this many values since the last (re)start.</param>
    public PageHinkley(double delta = 0.005, double threshold = 50, double alpha = 1 - 0.0001, int minInstances = 30)
    {
        DetectorArgs.Require(delta >= 0 && double.IsFinite(delta), nameof(delta), delta, "must be a finite number >= 0");
        DetectorArgs.Require(threshold > 0 && double.IsFinite(threshold), nameof(threshold), threshold, "must be a finite number > 0");
        DetectorArgs.Require(alpha is > 0 and <= 1, nameof(alpha), alpha, "must be in (0, 1]");
        DetectorArgs.Require(minInstances >= 1, nameof(minInstances), minInstances, "must be >= 1");
        Delta = delta;
        Threshold = threshold;
        Alpha = alpha;
        MinInstances = minInstances;
        Reset();
    }

    /// <summary>Magnitude of change tolerated: deviations below it are treated as noise.</summary>
    public double Delta { get; }
    /// <summary>λ: the cumulative deviation that raises an alarm.</summary>
    public double Threshold { get; }
    /// <summary>Fading factor of the cumulative sum (1 = no fading).</summary>
    public double Alpha { get; }
    /// <summary>No alarm before this many values since the last (re)start.</summary>
    public int MinInstances { get; }

    /// <summary>Current test statistic m_t − M_t (compare with <see cref="Threshold"/>).</summary>
    public double Statistic => _sum - _min;

    /// <inheritdoc/>
    public bool DriftDetected { get; private set; }

    /// <inheritdoc/>
    public bool WarningDetected => false;

    /// <inheritdoc/>
    public string Name => $"PageHinkley(delta={Delta}, threshold={Threshold}, alpha={Alpha})";

    /// <inheritdoc/>
    public void Reset()
    {
        _n = 0;
        _mean = 0;
        _sum = 0;
        _min = 0;
        _restartPending = false;
        DriftDetected = false;
    }

    /// <inheritdoc/>
    public void Update(double x)
    {
        DetectorArgs.RequireFinite(x);
        if (_restartPending)
        {
            Reset(); // after a drift the statistics describe the old concept
        }
        _n++;
        _mean += (x - _mean) / _n;
        _sum = Alpha * _sum + (x - _mean - Delta);
        _min = Math.Min(_min, _sum);
        DriftDetected = _n >= MinInstances && _sum - _min > Threshold;
        _restartPending = DriftDetected;
    }
}
