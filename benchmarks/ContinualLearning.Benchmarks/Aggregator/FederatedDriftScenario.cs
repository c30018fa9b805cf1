using ContinualLearning.Streams;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// One three-group drift setting: the concept each group is in at each round, and how a device draws labelled samples
/// of a concept. Group g starts in <see cref="Start"/>[g] and switches abruptly to <see cref="After"/>[g] at round
/// <see cref="DriftRound"/>[g]. Features are standardised to roughly zero mean and unit variance.
/// </summary>
internal sealed record DriftScenario(string Name, int Features, int[] Start, int[] After, int[] DriftRound, Func<int, int, IEnumerator<Sample>> Stream, Func<float, float> Standardise)
{
    public int Groups => Start.Length;

    public int ConceptOf(int group, int round) => round < DriftRound[group] ? Start[group] : After[group];

    /// <summary>
    /// SEA (θ = 8, 9, 7, 9.5 for concepts 1–4), 10 % label noise. A: 3 → 2 at round 20, B: 4 → 3 at 40 (the concept
    /// A left), C: 1 → 4 at 60 (the concept B left): two of the three drifts return to a concept the fleet has seen.
    /// </summary>
    public static DriftScenario Sea() => new("SEA", 3, [3, 4, 1], [2, 3, 4], [20, 40, 60],
        (concept, seed) => new SeaGenerator(concept, 0.1, seed).GetEnumerator(), v => (v - 5f) / 2.9f);

    /// <summary>
    /// Abrupt hyperplanes in 10 dimensions (Hulten et al. 2001 with no gradual rotation: each concept a fixed random
    /// weight vector), 5 % label noise; the same schedule as <see cref="Sea"/> over four concepts.
    /// </summary>
    public static DriftScenario Hyperplane(int seed) => new("hyperplane", 10, [3, 4, 1], [2, 3, 4], [20, 40, 60],
        (concept, streamSeed) => AbruptHyperplane(ConceptWeights(seed, concept), 0.05, streamSeed), v => (v - 0.5f) / 0.29f);

    private static double[] ConceptWeights(int seed, int concept)
    {
        var rng = new Random(seed * 7919 + concept);
        return [.. Enumerable.Range(0, 10).Select(_ => rng.NextDouble())];
    }

    /// <summary>MOA's hyperplane with a fixed weight vector: x uniform in [0,1]^d, class 1 when Σ wᵢxᵢ ≥ ½ Σ wᵢ.</summary>
    private static IEnumerator<Sample> AbruptHyperplane(double[] w, double noise, int seed)
    {
        var rng = new Random(seed);
        var half = 0.5 * w.Sum();
        while (true)
        {
            var x = new float[w.Length];
            double sum = 0;
            for (var i = 0; i < w.Length; i++)
            {
                x[i] = (float)rng.NextDouble();
                sum += w[i] * x[i];
            }
            var y = sum >= half ? 1 : 0;
            if (rng.NextDouble() < noise) y = 1 - y;
            yield return new Sample(x, y);
        }
    }
}
