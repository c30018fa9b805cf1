namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// One aggregation rule: combines flattened, weighted deltas into one update (Flower's <c>Strategy.aggregate_fit</c>).
/// Implementations are pure (no state between calls, no I/O), so they can be property-tested: identical inputs give
/// that input back and the order of the inputs does not matter. Parameters come in through the constructor.
/// </summary>
internal interface IAggregationStrategy
{
    /// <summary>The aggregated update; throws <see cref="ArgumentException"/> for an empty list or mismatched lengths.</summary>
    float[] Aggregate(IReadOnlyList<WeightedUpdate> updates);

    /// <summary>
    /// True when the rule is defined with per-client sample weights (FedAvg and its clipped form); false for the robust
    /// rules, which are defined unweighted (Yin et al. 2018): a device's self-reported sample count must not buy it a
    /// larger share of the median or of the trimmed window. The round then weights by the server-side staleness discount only.
    /// </summary>
    bool WeighsBySamples { get; }

    /// <summary>
    /// The fewest updates for which the rule keeps its guarantee (Krum: 2f + 3); a round with fewer devices makes nothing
    /// and leaves the deltas buffered, as <see cref="AggregationOptions.MinDevices"/> does.
    /// </summary>
    int MinUpdates => 1;
}
