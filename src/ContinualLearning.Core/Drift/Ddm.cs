namespace ContinualLearning.Drift;

/// <summary>
/// DDM, the Drift Detection Method of Gama et al. (2004), over a 0/1 error stream.
/// p_i is the error rate since the last restart and s_i = √(p_i(1−p_i)/i); the detector keeps
/// the (p_min, s_min) pair where p + s was smallest and signals a warning when
/// p_i + s_i ≥ p_min + 2·s_min and a drift when p_i + s_i ≥ p_min + 3·s_min, only after
/// <see cref="MinSamples"/> values. After a drift it restarts at the next update.
/// The comparisons are strict (as in River): with "≥", a run of zero errors (p = s = 0) would
/// satisfy 0 ≥ 0 + 3·0 and raise a drift on a perfect stream.
/// </summary>
public sealed class Ddm : IDriftDetector
{
    private long _n;
    private double _errors;
    private double _pMin;
    private double _sMin;
    private double _psMin;
    private bool _restartPending;

    /// <param name="minSamples">Values needed before p and s are trusted (30 in the paper).</param>
    /// <param name="warningLevel">Warning when p+s ≥ p_min + warningLevel·s_min (2 in the paper).</param>
    /// <param name="driftLevel">Drift when p+s ≥ p_min + driftLevel·s_min (3 in the paper).</param>
    public Ddm(int minSamples = 30, double warningLevel = 2, double driftLevel = 3)
    {
        DetectorArgs.Require(minSamples >= 1, nameof(minSamples), minSamples, "must be >= 1");
        DetectorArgs.Require(warningLevel > 0 && double.IsFinite(warningLevel), nameof(warningLevel), warningLevel, "must be a finite number > 0");
        DetectorArgs.Require(driftLevel > warningLevel && double.IsFinite(driftLevel), nameof(driftLevel), driftLevel, "must be finite and greater than warningLevel");
        MinSamples = minSamples;
        WarningLevel = warningLevel;
        DriftLevel = driftLevel;
        Reset();
    }

    /// <summary>Values needed before p and s are trusted.</summary>
    public int MinSamples { get; }
    /// <summary>Warning when p+s ≥ p_min + WarningLevel·s_min.</summary>
    public double WarningLevel { get; }
    /// <summary>Drift when p+s ≥ p_min + DriftLevel·s_min.</summary>
    public double DriftLevel { get; }

    /// <summary>Error rate since the last restart.</summary>
    public double ErrorRate => _n > 0 ? _errors / _n : 0;

    /// <inheritdoc/>
    public bool DriftDetected { get; private set; }

    /// <inheritdoc/>
    public bool WarningDetected { get; private set; }

    /// <inheritdoc/>
    public string Name => $"DDM(minSamples={MinSamples}, warning={WarningLevel}, drift={DriftLevel})";

    /// <inheritdoc/>
    public void Reset()
    {
        _n = 0;
        _errors = 0;
        _pMin = double.MaxValue;
        _sMin = double.MaxValue;
        _psMin = double.MaxValue;
        _restartPending = false;
        DriftDetected = false;
        WarningDetected = false;
    }

    /// <summary>Feeds one outcome: any value &gt; 0.5 counts as an error (DDM models a binomial error count).</summary>
    public void Update(double x)
    {
        DetectorArgs.RequireFinite(x);
        if (_restartPending)
        {
            Reset();
        }
        _n++;
        _errors += x > 0.5 ? 1 : 0;
        var p = _errors / _n;
        var s = Math.Sqrt(p * (1 - p) / _n);

        DriftDetected = false;
        WarningDetected = false;
        if (_n < MinSamples)
        {
            return;
        }
        if (p + s <= _psMin)
        {
            _pMin = p;
            _sMin = s;
            _psMin = p + s;
        }
        if (p + s > _pMin + DriftLevel * _sMin)
        {
            DriftDetected = true;
            _restartPending = true;
        }
        else if (p + s > _pMin + WarningLevel * _sMin)
        {
            WarningDetected = true;
        }
    }
}
