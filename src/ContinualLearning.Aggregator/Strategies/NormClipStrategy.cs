namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Norm clipping (Sun et al. 2019, "Can you really backdoor FL?"): every delta whose L2 norm exceeds C is scaled
/// down to it, then the weighted mean.
/// </summary>
internal sealed class NormClipStrategy : IAggregationStrategy
{
    private readonly double _clipNorm;

    public NormClipStrategy(double clipNorm)
    {
        AggregationMath.RequireClipNorm(clipNorm);
        _clipNorm = clipNorm;
    }

    public bool WeighsBySamples => true;

    public float[] Aggregate(IReadOnlyList<WeightedUpdate> updates)
    {
        AggregationMath.Check(updates);
        return AggregationMath.WeightedMean(updates.Select(u => u with { Values = AggregationMath.ClipToNorm(u.Values, _clipNorm) }).ToArray());
    }
}
