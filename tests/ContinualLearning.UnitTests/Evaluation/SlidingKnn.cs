using ContinualLearning.Evaluation;

namespace ContinualLearning.UnitTests.Evaluation;

/// <summary>
/// A real (if simple) adaptive learner for the evaluation tests: k-nearest-neighbours (squared
/// Euclidean, majority vote, ties to the lower class) over the last <c>capacity</c> samples, so it
/// forgets old concepts at a known rate.
/// </summary>
internal sealed class SlidingKnn(int capacity = 500, int k = 5) : IOnlineClassifier
{
    private readonly float[][] _x = new float[capacity][];
    private readonly int[] _y = new int[capacity];
    private int _next;
    private int _count;

    public int Predict(ReadOnlySpan<float> x)
    {
        if (_count == 0)
        {
            return 0;
        }
        var kk = Math.Min(k, _count);
        Span<double> bestD = stackalloc double[kk];
        Span<int> bestY = stackalloc int[kk];
        bestD.Fill(double.MaxValue);
        for (var i = 0; i < _count; i++)
        {
            var d = 0.0;
            var m = _x[i];
            for (var f = 0; f < x.Length; f++)
            {
                var diff = m[f] - x[f];
                d += diff * diff;
            }
            // Insertion into the sorted k-best list.
            var pos = kk;
            while (pos > 0 && d < bestD[pos - 1])
            {
                pos--;
            }
            if (pos == kk)
            {
                continue;
            }
            for (var j = kk - 1; j > pos; j--)
            {
                bestD[j] = bestD[j - 1];
                bestY[j] = bestY[j - 1];
            }
            bestD[pos] = d;
            bestY[pos] = _y[i];
        }
        var votes = new Dictionary<int, int>();
        foreach (var y in bestY)
        {
            votes[y] = votes.GetValueOrDefault(y) + 1;
        }
        return votes.OrderByDescending(v => v.Value).ThenBy(v => v.Key).First().Key;
    }

    public void Learn(ReadOnlySpan<float> x, int y)
    {
        _x[_next] = x.ToArray();
        _y[_next] = y;
        _next = (_next + 1) % _x.Length;
        _count = Math.Min(_count + 1, _x.Length);
    }
}
