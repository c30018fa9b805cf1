namespace ContinualLearning.Aggregator.Strategies;

/// <summary>How buffered deltas are combined into one global update.</summary>
public enum StrategyKind
{
    /// <summary>Weighted mean (McMahan et al. 2017).</summary>
    FedAvg,

    /// <summary>Coordinate-wise trimmed mean: drop the β fraction of smallest and largest values per coordinate (Yin et al. 2018); the default.</summary>
    TrimmedMean,

    /// <summary>Coordinate-wise median (Yin et al. 2018).</summary>
    Median,

    /// <summary>Clip each delta to L2 norm C, then weighted mean (Sun et al. 2019, "Can you really backdoor FL?").</summary>
    NormClip,

    /// <summary>The one update closest to its n − f − 2 nearest others (Blanchard et al. 2017); needs n ≥ 2f + 3 devices.</summary>
    Krum,

    /// <summary>The mean of the m updates with the best Krum scores (Blanchard et al. 2017); needs n ≥ 2f + 3 devices.</summary>
    MultiKrum,
}

/// <summary>One device's flattened update (state_dict order) with its aggregation weight (capped samples × staleness discount, or the discount alone for the robust strategies).</summary>
public readonly record struct WeightedUpdate(float[] Values, double Weight);

/// <summary>Parameters of the strategies that have any.</summary>
public sealed record StrategyOptions
{
    /// <summary>Trimmed mean: fraction β in [0, 0.5) of values dropped on each side of every coordinate.</summary>
    public double TrimFraction { get; init; } = 0.2;

    /// <summary>Norm clipping: L2 bound C each delta is scaled down to.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Krum and Multi-Krum: f, the number of devices of a round assumed Byzantine; a round needs at least 2f + 3 devices.</summary>
    public int ByzantineDevices { get; init; } = 1;

    /// <summary>Multi-Krum: m, how many best-scored updates are averaged; 0 means n − f (Blanchard et al.'s choice), never more than n − f.</summary>
    public int MultiKrumKeep { get; init; }
}

/// <summary>
/// The registered strategies, by the <see cref="StrategyKind"/> the configuration names (Flower's shape: a small
/// <see cref="IAggregationStrategy"/>, one file per strategy, the shared maths in <see cref="AggregationMath"/>).
/// A new strategy is one new file plus a member of <see cref="StrategyKind"/> and its line in the table below.
/// </summary>
public static class AggregationStrategies
{
    private static readonly Dictionary<StrategyKind, Func<StrategyOptions, IAggregationStrategy>> Registered = new()
    {
        [StrategyKind.FedAvg] = _ => new FedAvgStrategy(),
        [StrategyKind.TrimmedMean] = o => new TrimmedMeanStrategy(o.TrimFraction),
        [StrategyKind.Median] = _ => new MedianStrategy(),
        [StrategyKind.NormClip] = o => new NormClipStrategy(o.ClipNorm),
        [StrategyKind.Krum] = o => new KrumStrategy(o.ByzantineDevices, keep: 1),
        [StrategyKind.MultiKrum] = o => new KrumStrategy(o.ByzantineDevices, o.MultiKrumKeep),
    };

    /// <summary>Combines <paramref name="updates"/> with the strategy <paramref name="kind"/>.</summary>
    public static float[] Aggregate(StrategyKind kind, IReadOnlyList<WeightedUpdate> updates, StrategyOptions? options = null) =>
        Create(kind, options ?? new StrategyOptions()).Aggregate(updates);

    /// <summary>The strategy registered for <paramref name="kind"/>, built with its parameters from <paramref name="options"/>.</summary>
    internal static IAggregationStrategy Create(StrategyKind kind, StrategyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Registered.TryGetValue(kind, out var create)
            ? create(options)
            : throw new ArgumentOutOfRangeException(nameof(kind), kind, $"No aggregation strategy is registered for {kind}; use one of {string.Join(", ", Registered.Keys.Select(k => k.ToText()))}.");
    }
}
