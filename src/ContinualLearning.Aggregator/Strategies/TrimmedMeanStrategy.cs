namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Coordinate-wise trimmed mean (Yin et al. 2018): per coordinate, sort the values, drop ⌊β·m⌋ from each end
/// (m = number of deltas), weighted mean of the rest. With β = 0 this is FedAvg; it tolerates up to ⌊β·m⌋ arbitrary
/// deltas per coordinate.
/// </summary>
internal sealed class TrimmedMeanStrategy : IAggregationStrategy
{
    private readonly double _trimFraction;

    public TrimmedMeanStrategy(double trimFraction)
    {
        if (!(trimFraction >= 0 && trimFraction < 0.5))
            throw new ArgumentOutOfRangeException(nameof(trimFraction), trimFraction, "Trim fraction β must be in [0, 0.5): the fraction of values dropped on each side.");
        _trimFraction = trimFraction;
    }

    public float[] Aggregate(IReadOnlyList<WeightedUpdate> updates)
    {
        var n = AggregationMath.Check(updates);
        var m = updates.Count;
        var k = (int)Math.Floor(_trimFraction * m);
        var column = new (float Value, double Weight)[m];
        var result = new float[n];
        for (var i = 0; i < n; i++)
        {
            AggregationMath.SortedColumn(updates, i, column);
            double sum = 0, total = 0;
            for (var j = k; j < m - k; j++)
            {
                sum += column[j].Weight * column[j].Value;
                total += column[j].Weight;
            }
            result[i] = (float)(sum / total);
        }
        return result;
    }
}
