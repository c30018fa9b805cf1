namespace ContinualLearning.Experiments;

/// <summary>
/// Online input standardisation with running mean and variance (Welford). A strategy updates it in
/// <c>Learn</c>, i.e. only with samples it has already been tested on, so the statistics used to predict
/// sample t come from samples 0…t−1: prequential evaluation never peeks into the future. A fixed
/// standardisation from a warm-up prefix would be equally honest but goes stale under covariate drift.
/// </summary>
internal sealed class RunningStandardizer
{
    private readonly double[] _mean;
    private readonly double[] _m2;

    public RunningStandardizer(int features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        _mean = new double[features];
        _m2 = new double[features];
    }

    /// <summary>Samples seen.</summary>
    public long Count { get; private set; }

    /// <summary>When true, <see cref="Update"/> is ignored (the no-update strategy freezes its inputs with its weights).</summary>
    public bool Frozen { get; set; }

    public void Update(ReadOnlySpan<float> x)
    {
        if (Frozen) return;
        if (x.Length != _mean.Length)
            throw new ArgumentException($"Sample has {x.Length} features; the standardiser was built for {_mean.Length}.", nameof(x));
        Count++;
        for (var i = 0; i < x.Length; i++)
        {
            var delta = x[i] - _mean[i];
            _mean[i] += delta / Count;
            _m2[i] += delta * (x[i] - _mean[i]);
        }
    }

    /// <summary>(x − mean) / std per feature; identity before any sample, and a constant feature maps to 0.</summary>
    public void Transform(ReadOnlySpan<float> x, Span<float> output)
    {
        for (var i = 0; i < _mean.Length; i++)
        {
            var variance = Count > 1 ? _m2[i] / (Count - 1) : 0;
            // Near-constant features (a flag seen once) would blow up; leave their scale alone.
            var std = variance > 1e-12 ? Math.Sqrt(variance) : 1;
            output[i] = (float)((x[i] - _mean[i]) / std);
        }
    }
}
