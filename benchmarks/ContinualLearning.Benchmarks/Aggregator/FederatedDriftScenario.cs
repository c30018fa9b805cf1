using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Streams;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// One three-group drift setting: the concept each group is in at each round (<see cref="Schedule"/>) and how a device
/// draws labelled samples of a concept (<see cref="Stream"/>: device, concept, seed). Features are standardised to
/// roughly zero mean and unit variance (<see cref="Standardise"/> per value, identity when the stream already is).
/// </summary>
internal sealed record DriftScenario(string Name, int Features, int Classes, GroupDriftSchedule Schedule, Func<int, int, int, IEnumerator<Sample>> Stream, Func<float, float> Standardise)
{
    public int Groups => Schedule.Groups;

    public IReadOnlyList<int> Start => Schedule.Start;

    public IReadOnlyList<int> After => Schedule.After;

    public IReadOnlyList<int> DriftRound => Schedule.DriftRound;

    public int ConceptOf(int group, int round) => Schedule.ConceptOf(group, round);

    /// <summary>
    /// SEA (θ = 8, 9, 7, 9.5 for concepts 1–4), 10 % label noise. A: 3 → 2 at round 20, B: 4 → 3 at 40 (the concept
    /// A left), C: 1 → 4 at 60 (the concept B left): two of the three drifts return to a concept the fleet has seen.
    /// </summary>
    public static DriftScenario Sea() => new("SEA", 3, 2, GroupDriftSchedule.ThreeGroups,
        (_, concept, seed) => new SeaGenerator(concept, 0.1, seed).GetEnumerator(), v => (v - 5f) / 2.9f);

    /// <summary>
    /// Abrupt hyperplanes in 10 dimensions (Hulten et al. 2001 with no gradual rotation: each concept a fixed random
    /// weight vector), 5 % label noise; the same schedule as <see cref="Sea"/> over four concepts.
    /// </summary>
    public static DriftScenario Hyperplane(int seed) => new("hyperplane", 10, 2, GroupDriftSchedule.ThreeGroups,
        (_, concept, streamSeed) => AbruptHyperplane(ConceptWeights(seed, concept), 0.05, streamSeed), v => (v - 0.5f) / 0.29f);

    /// <summary>
    /// Spoken keywords (<see cref="KeywordBindings"/>): the ten command words, concepts 1–4 the standard, mirrored,
    /// rotated and vertically inverted bindings, the same schedule as <see cref="Sea"/>. Device i hears voice family
    /// i mod <paramref name="accents"/>.Count (every variant, clean and noisy) through <paramref name="vectors"/>, the
    /// corpus's embeddings z-scored per dimension (<see cref="KeywordBindings.Standardise"/>).
    /// </summary>
    public static DriftScenario Keywords(IReadOnlyList<KeywordClip> clips, IReadOnlyList<float[]> vectors, IReadOnlyList<string> accents) =>
        new("keywords", vectors[0].Length, KeywordBindings.Actions.Count, GroupDriftSchedule.ThreeGroups,
            (device, concept, seed) => KeywordBindings.Stream(clips, vectors, accents[device % accents.Count], concept, seed), v => v);

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
