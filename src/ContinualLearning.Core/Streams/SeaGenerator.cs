namespace ContinualLearning.Streams;

/// <summary>
/// SEA concepts (Street &amp; Kim 2001, as in MOA's <c>SEAGenerator</c>): three features uniform in
/// [0, 10], only the first two relevant; class 0 when f1 + f2 ≤ θ, else 1, with θ = 8, 9, 7, 9.5 for
/// concepts 1–4. A fraction <c>noise</c> of labels is flipped. Infinite and seeded.
/// </summary>
public sealed class SeaGenerator : IStream
{
    private static readonly double[] Thresholds = [8, 9, 7, 9.5];
    private readonly int _seed;

    /// <param name="concept">1–4, selecting θ.</param>
    /// <param name="noise">Probability of flipping a label (MOA default 10%).</param>
    /// <param name="seed">Random seed; equal seeds give equal streams.</param>
    public SeaGenerator(int concept = 1, double noise = 0.1, int seed = 1)
    {
        if (concept is < 1 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(concept), concept, "SEA concept must be 1, 2, 3 or 4 (θ = 8, 9, 7, 9.5).");
        }
        if (noise is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(noise), noise, "SEA noise is a probability in [0, 1], e.g. 0.1.");
        }
        Concept = concept;
        Noise = noise;
        _seed = seed;
    }

    /// <summary>The SEA concept, 1–4.</summary>
    public int Concept { get; }
    /// <summary>Probability of flipping a label.</summary>
    public double Noise { get; }
    /// <summary>θ of the concept: class 0 when f1 + f2 ≤ θ.</summary>
    public double Threshold => Thresholds[Concept - 1];

    /// <inheritdoc/>
    public StreamSchema Schema { get; } = new(["f1", "f2", "f3"], ["0", "1"]);

    /// <summary>The noise-free label of a point under this concept.</summary>
    public int TrueLabel(ReadOnlySpan<float> x) => x[0] + x[1] <= Threshold ? 0 : 1;

    /// <inheritdoc/>
    public IEnumerator<Sample> GetEnumerator()
    {
        var rng = new Random(_seed);
        while (true)
        {
            float[] x = [(float)(rng.NextDouble() * 10), (float)(rng.NextDouble() * 10), (float)(rng.NextDouble() * 10)];
            var y = TrueLabel(x);
            if (rng.NextDouble() < Noise)
            {
                y = 1 - y;
            }
            yield return new Sample(x, y);
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
