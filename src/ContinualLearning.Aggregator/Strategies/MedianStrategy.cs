namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Coordinate-wise median (Yin et al. 2018): per coordinate, the value where the cumulative weight reaches half the
/// total; the mean of the two middle values when it lands exactly on half, so the result does not depend on tie order.
/// The round gives it one update per device weighted only by the staleness discount (<see cref="WeighsBySamples"/> is
/// false), so a device cannot move the median by claiming more samples.
/// </summary>
internal sealed class MedianStrategy : IAggregationStrategy
{
    public bool WeighsBySamples => false;

    public float[] Aggregate(IReadOnlyList<WeightedUpdate> updates)
    {
        var n = AggregationMath.Check(updates);
        var m = updates.Count;
        var column = new (float Value, double Weight)[m];
        var sorter = new ColumnSorter(updates);
        double total = 0;
        foreach (var u in updates) total += u.Weight;
        var half = total / 2;
        var result = new float[n];
        for (var i = 0; i < n; i++)
        {
            sorter.Sort(i, column);
            double cumulative = 0;
            for (var j = 0; j < m; j++)
            {
                cumulative += column[j].Weight;
                // Relative tolerance: weights are sums of doubles, an exact half can miss by one ulp.
                if (Math.Abs(cumulative - half) <= 1e-12 * total && j + 1 < m)
                {
                    result[i] = (float)((column[j].Value + (double)column[j + 1].Value) / 2);
                    break;
                }
                if (cumulative > half)
                {
                    result[i] = column[j].Value;
                    break;
                }
            }
        }
        return result;
    }
}
