namespace ContinualLearning.Drift;

/// <summary>
/// ADWIN (Bifet &amp; Gavaldà 2007, "Learning from time-changing data with adaptive windowing"),
/// the ADWIN2 variant with an exponential histogram: the window is summarised by buckets of
/// size 1, 2, 4, … (at most <see cref="MaxBucketsPerRow"/> per size), so memory and time per cut
/// check are O(M·log W). Every <see cref="Clock"/> updates each boundary between buckets is
/// tested as a cut W = W0·W1; when |μ0 − μ1| exceeds the Hoeffding/Bernstein bound ε_cut the
/// oldest bucket is dropped, repeatedly, and a drift is reported.
/// Defaults and the bound follow River's <c>ADWIN</c> and MOA (delta 0.002, clock 32, M 5,
/// grace period 10, minimum sub-window 5). It has no warning zone.
/// </summary>
public sealed class Adwin : IDriftDetector
{
    /// <summary>One row of the histogram: buckets of the same size, oldest first.</summary>
    private sealed class Row(int capacity)
    {
        public readonly double[] Totals = new double[capacity];
        public readonly double[] Variances = new double[capacity];
        public int Count;

        public void Add(double total, double variance)
        {
            Totals[Count] = total;
            Variances[Count] = variance;
            Count++;
        }

        public void RemoveOldest(int n)
        {
            Array.Copy(Totals, n, Totals, 0, Count - n);
            Array.Copy(Variances, n, Variances, 0, Count - n);
            Count -= n;
        }
    }

    // Row i holds buckets of 2^i elements; row 0 is the newest data.
    private readonly List<Row> _rows = [];
    private double _total;
    private double _variance; // sum of squared deviations (not divided by width)
    private double _width;
    private long _tick;

    /// <param name="delta">Confidence: smaller means fewer false alarms and slower detection.</param>
    /// <param name="clock">Check for cuts every this many updates (River/MOA default 32: much cheaper, a little later).</param>
    /// <param name="maxBucketsPerRow">M: buckets of one size kept before two are merged (memory vs. cut resolution).</param>
    /// <param name="gracePeriod">No cut is checked until the window holds more than this many elements.</param>
    /// <param name="minSubWindowLength">Both sides of a cut must hold at least this many elements.</param>
    public Adwin(double delta = 0.002, int clock = 32, int maxBucketsPerRow = 5, int gracePeriod = 10, int minSubWindowLength = 5)
    {
        DetectorArgs.Require(delta is > 0 and < 1, nameof(delta), delta, "must be in (0, 1)");
        DetectorArgs.Require(clock >= 1, nameof(clock), clock, "must be >= 1");
        DetectorArgs.Require(maxBucketsPerRow >= 2, nameof(maxBucketsPerRow), maxBucketsPerRow, "must be >= 2");
        DetectorArgs.Require(gracePeriod >= 0, nameof(gracePeriod), gracePeriod, "must be >= 0");
        DetectorArgs.Require(minSubWindowLength >= 1, nameof(minSubWindowLength), minSubWindowLength, "must be >= 1");
        Delta = delta;
        Clock = clock;
        MaxBucketsPerRow = maxBucketsPerRow;
        GracePeriod = gracePeriod;
        MinSubWindowLength = minSubWindowLength;
        Reset();
    }

    /// <summary>Confidence of a cut: smaller means fewer false alarms and slower detection.</summary>
    public double Delta { get; }
    /// <summary>Cuts are checked every this many updates.</summary>
    public int Clock { get; }
    /// <summary>M: buckets of one size kept before two are merged.</summary>
    public int MaxBucketsPerRow { get; }
    /// <summary>No cut is checked until the window holds more than this many elements.</summary>
    public int GracePeriod { get; }
    /// <summary>Both sides of a cut must hold at least this many elements.</summary>
    public int MinSubWindowLength { get; }

    /// <summary>Number of elements currently in the adaptive window.</summary>
    public long Width => (long)_width;

    /// <summary>Mean of the window: the current estimate (for error streams, the error rate since the last change).</summary>
    public double Estimation => _width > 0 ? _total / _width : 0;

    /// <summary>Variance of the values in the window.</summary>
    public double Variance => _width > 0 ? _variance / _width : 0;

    /// <summary>Number of drifts reported since construction or <see cref="Reset"/>.</summary>
    public int DetectionCount { get; private set; }

    /// <inheritdoc/>
    public bool DriftDetected { get; private set; }

    /// <inheritdoc/>
    public bool WarningDetected => false;

    /// <inheritdoc/>
    public string Name => $"ADWIN(delta={Delta})";

    /// <inheritdoc/>
    public void Reset()
    {
        _rows.Clear();
        _rows.Add(new Row(MaxBucketsPerRow + 1));
        _total = 0;
        _variance = 0;
        _width = 0;
        _tick = 0;
        DetectionCount = 0;
        DriftDetected = false;
    }

    /// <inheritdoc/>
    public void Update(double x)
    {
        DetectorArgs.RequireFinite(x);
        Insert(x);
        DriftDetected = DetectChange();
        if (DriftDetected)
        {
            DetectionCount++;
        }
    }

    private void Insert(double x)
    {
        // Welford-style update of the window's sum of squared deviations.
        if (_width > 0)
        {
            var mean = _total / _width;
            _variance += _width * (x - mean) * (x - mean) / (_width + 1);
        }
        _width++;
        _total += x;
        _rows[0].Add(x, 0);
        Compress();
    }

    private void Compress()
    {
        for (var i = 0; i < _rows.Count; i++)
        {
            var row = _rows[i];
            if (row.Count <= MaxBucketsPerRow)
            {
                return;
            }
            if (i + 1 == _rows.Count)
            {
                _rows.Add(new Row(MaxBucketsPerRow + 1));
            }
            // Merge the two oldest buckets of this size into one of twice the size (Chan et al. pairwise variance).
            var n = Math.Pow(2, i);
            var mu1 = row.Totals[0] / n;
            var mu2 = row.Totals[1] / n;
            var total = row.Totals[0] + row.Totals[1];
            var variance = row.Variances[0] + row.Variances[1] + n * n * (mu1 - mu2) * (mu1 - mu2) / (2 * n);
            row.RemoveOldest(2);
            _rows[i + 1].Add(total, variance);
        }
    }

    private void DeleteOldestBucket()
    {
        var last = _rows.Count - 1;
        var row = _rows[last];
        var n = Math.Pow(2, last);
        var u = row.Totals[0];
        var v = row.Variances[0];
        var mu = u / n;
        _width -= n;
        _total -= u;
        if (_width > 0)
        {
            var muRest = _total / _width;
            _variance -= v + n * _width * (mu - muRest) * (mu - muRest) / (n + _width);
            _variance = Math.Max(0, _variance); // rounding must not make the variance negative
        }
        else
        {
            _variance = 0;
        }
        row.RemoveOldest(1);
        if (row.Count == 0 && _rows.Count > 1)
        {
            _rows.RemoveAt(last);
        }
    }

    private bool DetectChange()
    {
        _tick++;
        if (_tick % Clock != 0 || _width <= GracePeriod)
        {
            return false;
        }

        var changed = false;
        var shrink = true;
        while (shrink)
        {
            shrink = false;
            double n0 = 0, u0 = 0;
            double n1 = _width, u1 = _total;
            // Walk boundaries from the oldest bucket to the newest: W0 = older part, W1 = newer part.
            for (var i = _rows.Count - 1; i >= 0 && !shrink; i--)
            {
                var row = _rows[i];
                var size = Math.Pow(2, i);
                for (var k = 0; k < row.Count; k++)
                {
                    n0 += size;
                    n1 -= size;
                    u0 += row.Totals[k];
                    u1 -= row.Totals[k];
                    if (n1 <= 0)
                    {
                        break; // the last bucket: no cut left
                    }
                    if (n0 >= MinSubWindowLength && n1 >= MinSubWindowLength && CutExceedsBound(n0, n1, u0 / n0 - u1 / n1))
                    {
                        changed = true;
                        shrink = _width > 0;
                        DeleteOldestBucket();
                        break;
                    }
                }
            }
        }
        return changed;
    }

    private bool CutExceedsBound(double n0, double n1, double meanDifference)
    {
        // ε_cut from the paper (Theorem 3.1, the Bernstein form used by MOA and River),
        // with the Bonferroni-style δ' = δ / (2 ln n) over the cuts tested.
        var deltaPrime = Math.Log(2 * Math.Log(_width) / Delta);
        var mRecip = 1.0 / (n0 - MinSubWindowLength + 1) + 1.0 / (n1 - MinSubWindowLength + 1);
        var epsilon = Math.Sqrt(2 * mRecip * Variance * deltaPrime) + 2.0 / 3.0 * deltaPrime * mRecip;
        return Math.Abs(meanDifference) > epsilon;
    }
}
