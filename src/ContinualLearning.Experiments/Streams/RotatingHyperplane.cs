namespace ContinualLearning.Streams;

/// <summary>
/// Rotating hyperplane (Hulten et al. 2001, as in MOA's <c>HyperplaneGenerator</c>): x uniform in
/// [0,1]^d, class 1 when Σ w_i x_i ≥ ½ Σ w_i. After every sample each of the first
/// <c>driftingDimensions</c> weights moves by <c>magnitudeOfChange</c> in its current direction, and
/// each direction reverses with probability <c>reversalProbability</c> — a continuous, gradual
/// (incremental) drift. Magnitude 0 gives a stationary concept; combine two seeds in a
/// <see cref="ConceptDriftStream"/> for abrupt or sigmoid drift. Infinite and seeded.
/// </summary>
internal sealed class RotatingHyperplane : IStream
{
    private readonly int _seed;

    /// <param name="dimensions">d, the number of features.</param>
    /// <param name="driftingDimensions">How many weights drift (the first ones).</param>
    /// <param name="magnitudeOfChange">Weight change per sample (MOA uses e.g. 0.001).</param>
    /// <param name="reversalProbability">Chance per sample that a weight's drift direction flips (MOA: 10%).</param>
    /// <param name="noise">Probability of flipping a label (MOA: 5%).</param>
    /// <param name="seed">Random seed; equal seeds give equal streams.</param>
    public RotatingHyperplane(int dimensions = 10, int driftingDimensions = 2, double magnitudeOfChange = 0, double reversalProbability = 0.1, double noise = 0.05, int seed = 1)
    {
        if (dimensions < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "Hyperplane needs at least 1 dimension.");
        }
        if (driftingDimensions < 0 || driftingDimensions > dimensions)
        {
            throw new ArgumentOutOfRangeException(nameof(driftingDimensions), driftingDimensions, $"Drifting dimensions must be between 0 and {dimensions}.");
        }
        if (!(magnitudeOfChange >= 0 && double.IsFinite(magnitudeOfChange)))
        {
            throw new ArgumentOutOfRangeException(nameof(magnitudeOfChange), magnitudeOfChange, "Magnitude of change must be a finite number >= 0.");
        }
        if (reversalProbability is < 0 or > 1 || noise is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(noise), $"Reversal probability ({reversalProbability}) and noise ({noise}) must be probabilities in [0, 1].");
        }
        Dimensions = dimensions;
        DriftingDimensions = driftingDimensions;
        MagnitudeOfChange = magnitudeOfChange;
        ReversalProbability = reversalProbability;
        Noise = noise;
        _seed = seed;
        Schema = new StreamSchema([.. Enumerable.Range(0, dimensions).Select(i => $"x{i}")], ["0", "1"]);
    }

    /// <summary>d, the number of features.</summary>
    public int Dimensions { get; }
    /// <summary>How many weights drift (the first ones).</summary>
    public int DriftingDimensions { get; }
    /// <summary>Weight change per sample.</summary>
    public double MagnitudeOfChange { get; }
    /// <summary>Chance per sample that a weight's drift direction flips.</summary>
    public double ReversalProbability { get; }
    /// <summary>Probability of flipping a label.</summary>
    public double Noise { get; }

    /// <inheritdoc/>
    public StreamSchema Schema { get; }

    /// <inheritdoc/>
    public IEnumerator<Sample> GetEnumerator()
    {
        var rng = new Random(_seed);
        var w = new double[Dimensions];
        var direction = new double[Dimensions];
        for (var i = 0; i < Dimensions; i++)
        {
            w[i] = rng.NextDouble();
            direction[i] = i < DriftingDimensions ? 1 : 0;
        }
        while (true)
        {
            var x = new float[Dimensions];
            double sum = 0, sumW = 0;
            for (var i = 0; i < Dimensions; i++)
            {
                x[i] = (float)rng.NextDouble();
                sum += w[i] * x[i];
                sumW += w[i];
            }
            var y = sum >= 0.5 * sumW ? 1 : 0;
            if (rng.NextDouble() < Noise)
            {
                y = 1 - y;
            }
            yield return new Sample(x, y);

            for (var i = 0; i < DriftingDimensions; i++)
            {
                w[i] += direction[i] * MagnitudeOfChange;
                if (rng.NextDouble() < ReversalProbability)
                {
                    direction[i] = -direction[i];
                }
            }
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
