using ContinualLearning.Streams;

namespace ContinualLearning.Experiments;

/// <summary>How concepts replace each other in a synthetic experiment stream.</summary>
public enum DriftKind
{
    /// <summary>The new concept starts exactly at the drift point.</summary>
    Abrupt,
    /// <summary>Sigmoid mix over <see cref="ExperimentStreams.GradualWidthFraction"/> of the stream around each drift point.</summary>
    Gradual,
}

/// <summary>
/// A stream prepared for an experiment: the samples in order, how many to use, the known drift points
/// (for adaptation delay) and, for synthetic streams, held-out samples of the first concept (for forgetting).
/// </summary>
/// <param name="Name">Short name for tables and file titles.</param>
/// <param name="Description">One line saying what the stream is.</param>
/// <param name="Stream">The samples (may be infinite; <paramref name="Samples"/> bounds the run).</param>
/// <param name="Samples">Samples the run consumes (fewer if the stream ends first).</param>
/// <param name="DriftPoints">Known drift points; empty for real data.</param>
/// <param name="HeldOutFirstConcept">Fresh, noise-free samples of the first concept, never trained on; null for real data.</param>
/// <param name="HeldOutBeforeAt">Sample index before which the "before" score on the held-out set is taken (the start of the first drift).</param>
public sealed record ExperimentStream(
    string Name,
    string Description,
    IStream Stream,
    long Samples,
    IReadOnlyList<long> DriftPoints,
    IReadOnlyList<Sample>? HeldOutFirstConcept,
    long HeldOutBeforeAt);

/// <summary>
/// The experiment streams. Synthetic ones alternate two concepts A, B, A, B in four equal segments: the
/// concepts conflict only partly (SEA: thresholds 8 vs 9 on f1 + f2; hyperplane: two random hyperplanes with
/// positive weights), and A recurs, which is where remembering pays. The last segment is B, so the held-out
/// A score at the end measures what was kept of A after adapting to B.
/// </summary>
public static class ExperimentStreams
{
    /// <summary>Width of a gradual drift as a fraction of the stream length.</summary>
    public const double GradualWidthFraction = 0.05;

    /// <summary>Held-out samples of the first concept.</summary>
    public const int HeldOutSize = 2000;

    /// <summary>The SEA stream's segments A, B, A, B as SEA concept numbers.</summary>
    private static readonly int[] SeaConcepts = [1, 2, 1, 2];

    /// <summary>SEA concepts 1 (θ = 8) and 2 (θ = 9) alternating A, B, A, B; 10% label noise.</summary>
    public static ExperimentStream Sea(DriftKind drift, long samples, int seed)
    {
        CheckSamples(samples);
        // Distinct seeds per segment so a recurring concept brings new points, not a replay of old ones.
        IStream[] concepts = [.. SeaConcepts.Select((c, i) => (IStream)new SeaGenerator(c, 0.1, seed + 7919 * (i + 1)))];
        return Alternating("sea", "SEA θ 8→9→8→9 (concepts 1,2,1,2)", "10%", concepts, drift, samples, seed, SeaHeldOut(seed));
    }

    /// <summary>
    /// SEA with covariate shift (a domain-incremental stream): concept A is SEA θ = 8 on the whole square; concept B is
    /// θ = 9 but its points have f1 in [5, 10] only (the device now works in another region). A, B, A, B. The concepts
    /// disagree only on the band 8 &lt; f1 + f2 ≤ 9 within B's region (5% of A's inputs), so one model can be right
    /// on both almost everywhere; what B's training does to the region it no longer sees is forgetting, not conflict.
    /// </summary>
    public static ExperimentStream SeaShift(DriftKind drift, long samples, int seed)
    {
        CheckSamples(samples);
        var schema = new StreamSchema(["f1", "f2", "f3"], ["0", "1"]);
        IStream Concept(bool shifted, int s) => shifted
            ? new DelegateStream(schema, () => ShiftedSea(9, 5, 0.1, s))
            : new SeaGenerator(1, 0.1, s);
        IStream[] concepts = [Concept(false, seed + 7919), Concept(true, seed + 2 * 7919), Concept(false, seed + 3 * 7919), Concept(true, seed + 4 * 7919)];
        return Alternating("sea-shift", "SEA with covariate shift: A = θ 8 on [0,10]², B = θ 9 with f1 in [5,10]; A,B,A,B", "10%",
            concepts, drift, samples, seed, SeaHeldOut(seed));
    }

    private static IEnumerable<Sample> ShiftedSea(double threshold, double f1Min, double noise, int seed)
    {
        var rng = new Random(seed);
        while (true)
        {
            float[] x = [(float)(f1Min + rng.NextDouble() * (10 - f1Min)), (float)(rng.NextDouble() * 10), (float)(rng.NextDouble() * 10)];
            var y = x[0] + x[1] <= threshold ? 0 : 1;
            if (rng.NextDouble() < noise) y = 1 - y;
            yield return new Sample(x, y);
        }
    }

    /// <summary>Two fixed random hyperplanes in 10 dimensions (MOA-style, 5% label noise) alternating A, B, A, B.</summary>
    public static ExperimentStream Hyperplane(DriftKind drift, long samples, int seed)
    {
        CheckSamples(samples);
        var a = new RotatingHyperplane(dimensions: 10, magnitudeOfChange: 0, noise: 0.05, seed: seed);
        var b = new RotatingHyperplane(dimensions: 10, magnitudeOfChange: 0, noise: 0.05, seed: seed + 1);
        // A generator's seed fixes both its hyperplane and its points; the second visit to A skips past every
        // point the first visit could have used, so it brings the same concept with new points.
        var aAgain = new DelegateStream(a.Schema, () => a.Skip((int)samples));
        var bAgain = new DelegateStream(b.Schema, () => b.Skip((int)samples));
        var cleanA = new RotatingHyperplane(dimensions: 10, magnitudeOfChange: 0, noise: 0, seed: seed);
        var heldOut = cleanA.Skip((int)(2 * samples)).Take(HeldOutSize).ToList();
        return Alternating("hyperplane", "hyperplane, 10 dims, two fixed planes A→B→A→B", "5%", [a, b, aAgain, bAgain], drift, samples, seed, heldOut);
    }

    /// <summary>
    /// A CSV data set in file order (Elec2 or any <see cref="CsvStream"/>-readable file). With
    /// <paramref name="previousLabel"/> a feature "prev_&lt;label&gt;" holding the previous row's class index is
    /// appended: in prequential evaluation the label of row t−1 is revealed before row t is predicted, so the
    /// feature uses nothing from the future (it is what the last-class baseline predicts from). With
    /// <paramref name="previousFeatures"/> the previous row's features are appended too ("prev_&lt;name&gt;"; zeros for
    /// the first row): they were observed before row t arrived, so they are equally available at prediction time.
    /// </summary>
    public static ExperimentStream Csv(string path, bool previousLabel, long? samples, string? name = null, bool previousFeatures = false)
    {
        var data = CsvStream.Load(path);
        IStream stream = data;
        if (previousLabel || previousFeatures)
        {
            IEnumerable<string> names = data.Schema.Features;
            if (previousFeatures) names = names.Concat(data.Schema.Features.Select(f => "prev_" + f));
            if (previousLabel) names = names.Append("prev_class");
            var schema = new StreamSchema([.. names], data.Schema.Classes);
            stream = new DelegateStream(schema, () => WithPrevious(data, previousLabel, previousFeatures));
        }
        var count = Math.Min(samples ?? data.Count, data.Count);
        var label = name ?? Path.GetFileNameWithoutExtension(path);
        return new ExperimentStream(
            label, $"{label} ({data.Count} rows, features: {string.Join(", ", stream.Schema.Features)})",
            stream, count, [], null, 0);
    }

    private static IEnumerable<Sample> WithPrevious(CsvStream data, bool label, bool features)
    {
        var previous = 0;
        var previousX = new float[data.Schema.FeatureCount];
        foreach (var s in data)
        {
            IEnumerable<float> x = s.Features;
            if (features) x = x.Concat(previousX);
            if (label) x = x.Append(previous);
            yield return new Sample([.. x], s.Label);
            previous = s.Label;
            previousX = s.Features;
        }
    }

    /// <summary>
    /// Four concepts switching at a quarter, half and three quarters of the run (abruptly, or over a gradual width),
    /// described as "<paramref name="what"/>, &lt;drift&gt; drift at …, <paramref name="noise"/> label noise".
    /// </summary>
    private static ExperimentStream Alternating(string name, string what, string noise, IStream[] concepts, DriftKind drift, long samples, int seed,
        IReadOnlyList<Sample> heldOut)
    {
        var positions = Positions(samples);
        var width = Width(drift, samples);
        var stream = new ConceptDriftStream(concepts, positions, width, seed);
        return new ExperimentStream(
            name, $"{what}, {drift.ToString().ToLowerInvariant()} drift at {string.Join(", ", positions)}{WidthText(width)}, {noise} label noise",
            stream, samples, positions, heldOut, FirstDriftStart(positions, width));
    }

    /// <summary>Noise-free samples of SEA concept 1 (θ = 8), seeded apart from the stream's.</summary>
    private static List<Sample> SeaHeldOut(int seed) => new SeaGenerator(1, noise: 0, seed: seed + 104729).Limit(HeldOutSize).ToList();

    private static long[] Positions(long samples) => [samples / 4, samples / 2, 3 * samples / 4];

    private static long Width(DriftKind drift, long samples) => drift == DriftKind.Abrupt ? 0 : (long)(samples * GradualWidthFraction);

    private static string WidthText(long width) => width == 0 ? "" : $" (width {width})";

    private static long FirstDriftStart(long[] positions, long width) => positions[0] - width / 2;

    private static void CheckSamples(long samples)
    {
        if (samples < 400)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, $"--samples is {samples}; a synthetic stream with four concept segments needs at least 400.");
    }
}
