namespace ContinualLearning.Streams;

/// <summary>
/// Switches between concepts at given positions, abruptly or gradually, like MOA's
/// <c>ConceptDriftStream</c> nested for several drifts. For switch j at position p_j with width w,
/// sample t comes from concept j+1 or later with probability σ_j(t) = 1 / (1 + e^{−4(t − p_j)/w});
/// the decision is made from the newest switch down, so concepts replace each other in order.
/// Width 0 is an abrupt switch exactly at p_j. Unlike nested MOA streams, t is the global sample
/// index, so positions are exact even when drifts overlap. Each concept stream advances only when
/// it supplies a sample.
/// </summary>
public sealed class ConceptDriftStream : IStream
{
    private readonly IStream[] _concepts;
    private readonly long[] _positions;
    private readonly int _seed;

    /// <param name="concepts">Concepts in order (at least 2), all with the same schema shape.</param>
    /// <param name="positions">Centre of each switch, increasing; one fewer than the concepts.</param>
    /// <param name="width">Width of each switch (0 = abrupt).</param>
    /// <param name="seed">Seed of the concept choice during gradual switches.</param>
    public ConceptDriftStream(IReadOnlyList<IStream> concepts, IReadOnlyList<long> positions, long width = 0, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(concepts);
        ArgumentNullException.ThrowIfNull(positions);
        if (concepts.Count < 2 || positions.Count != concepts.Count - 1)
        {
            throw new ArgumentException($"A concept drift stream needs at least 2 concepts and one position per switch (got {concepts.Count} concepts, {positions.Count} positions).", nameof(positions));
        }
        for (var j = 0; j < positions.Count; j++)
        {
            if (positions[j] < 0 || (j > 0 && positions[j] <= positions[j - 1]))
            {
                throw new ArgumentException($"Drift positions must be >= 0 and strictly increasing; position {j} = {positions[j]}.", nameof(positions));
            }
        }
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        var schema = concepts[0].Schema;
        foreach (var c in concepts)
        {
            if (c.Schema.FeatureCount != schema.FeatureCount || c.Schema.ClassCount != schema.ClassCount)
            {
                throw new ArgumentException($"All concepts must have {schema.FeatureCount} features and {schema.ClassCount} classes; one has {c.Schema.FeatureCount} and {c.Schema.ClassCount}.", nameof(concepts));
            }
        }
        _concepts = [.. concepts];
        _positions = [.. positions];
        Width = width;
        _seed = seed;
        Schema = schema;
    }

    /// <summary>Abrupt switch from <paramref name="before"/> to <paramref name="after"/> at <paramref name="position"/>.</summary>
    public static ConceptDriftStream Abrupt(IStream before, IStream after, long position) => new([before, after], [position]);

    /// <summary>Gradual (sigmoid) switch centred at <paramref name="position"/> over about <paramref name="width"/> samples.</summary>
    public static ConceptDriftStream Gradual(IStream before, IStream after, long position, long width, int seed = 1) => new([before, after], [position], width, seed);

    /// <summary>SEA with concepts switching at the given positions, e.g. concepts {1,2,3,4} at {12500, 25000, 37500}.</summary>
    public static ConceptDriftStream Sea(IReadOnlyList<int> concepts, IReadOnlyList<long> positions, long width = 0, double noise = 0.1, int seed = 1) =>
        new([.. concepts.Select((c, i) => new SeaGenerator(c, noise, seed + 7919 * (i + 1)))], positions, width, seed);

    /// <summary>Switch positions (centres).</summary>
    public IReadOnlyList<long> Positions => _positions;

    /// <summary>Switch width (0 = abrupt).</summary>
    public long Width { get; }

    /// <inheritdoc/>
    public StreamSchema Schema { get; }

    /// <summary>Probability that sample <paramref name="t"/> comes from a concept after switch <paramref name="j"/>.</summary>
    public double SwitchProbability(int j, long t)
    {
        if (Width == 0)
        {
            return t >= _positions[j] ? 1 : 0;
        }
        return 1 / (1 + Math.Exp(-4.0 * (t - _positions[j]) / Width));
    }

    /// <inheritdoc/>
    public IEnumerator<Sample> GetEnumerator()
    {
        var rng = new Random(_seed);
        var enumerators = _concepts.Select(c => c.GetEnumerator()).ToArray();
        try
        {
            for (long t = 0; ; t++)
            {
                var chosen = 0;
                for (var j = _positions.Length - 1; j >= 0; j--)
                {
                    if (rng.NextDouble() < SwitchProbability(j, t))
                    {
                        chosen = j + 1;
                        break;
                    }
                }
                if (!enumerators[chosen].MoveNext())
                {
                    yield break; // a finite concept ran out
                }
                yield return enumerators[chosen].Current;
            }
        }
        finally
        {
            foreach (var e in enumerators)
            {
                e.Dispose();
            }
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
