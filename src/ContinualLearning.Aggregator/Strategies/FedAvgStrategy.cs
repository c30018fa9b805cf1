namespace ContinualLearning.Aggregator.Strategies;

/// <summary>Weighted mean (McMahan et al. 2017): Σ wᵢ·dᵢ / Σ wᵢ.</summary>
internal sealed class FedAvgStrategy : IAggregationStrategy
{
    public bool WeighsBySamples => true;

    public float[] Aggregate(IReadOnlyList<WeightedUpdate> updates) => AggregationMath.WeightedMean(updates);
}
