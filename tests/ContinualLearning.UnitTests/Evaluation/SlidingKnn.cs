using ContinualLearning.Evaluation;

namespace ContinualLearning.UnitTests.Evaluation;

/// <summary>
/// A real (if simple) adaptive learner for the evaluation tests: k-nearest-neighbours over the last
/// <c>capacity</c> samples, so it forgets old concepts at a known rate.
/// </summary>
internal sealed class SlidingKnn(int capacity = 500, int k = 5) : IOnlineClassifier
{
    private readonly Queue<(float[] X, int Y)> _memory = new();

    public int Predict(ReadOnlySpan<float> x)
    {
        if (_memory.Count == 0)
        {
            return 0;
        }
        var q = x.ToArray();
        var votes = _memory
            .Select(m => (Distance: m.X.Zip(q, (a, b) => (a - b) * (a - b)).Sum(), m.Y))
            .OrderBy(p => p.Distance)
            .Take(k)
            .GroupBy(p => p.Y)
            .OrderByDescending(g => g.Count())
            .ThenBy(g => g.Key);
        return votes.First().Key;
    }

    public void Learn(ReadOnlySpan<float> x, int y)
    {
        _memory.Enqueue((x.ToArray(), y));
        if (_memory.Count > capacity)
        {
            _memory.Dequeue();
        }
    }
}
