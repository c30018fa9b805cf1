namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Coordinate-wise trimmed mean (Yin et al. 2018) over the deltas that carry the coordinate: per coordinate, sort the
/// non-zero values of the m deltas, drop ⌊β·p⌋ from each end (p = how many carry it), take the mean of the rest and
/// scale it by the share of deltas that carry it. Devices send top-k sparse deltas, and a coordinate a device did not
/// send is no vote for zero: counted as one, the zeros of the other devices would trim away every coordinate only a
/// few devices sent, and an honest sparse fleet would learn nothing. With dense deltas (p = m) this is Yin et al.'s
/// trimmed mean; with β = 0 it is the mean; it tolerates up to ⌊β·p⌋ arbitrary values per coordinate, and the
/// round's per-device norm clipping bounds what a device can add where few others sent anything.
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

    public bool WeighsBySamples => false;

    public float[] Aggregate(IReadOnlyList<WeightedUpdate> updates)
    {
        var n = AggregationMath.Check(updates);
        var m = updates.Count;
        double allWeight = 0;
        foreach (var u in updates) allWeight += u.Weight;
        var column = new (float Value, double Weight)[m];
        var sorter = new ColumnSorter(updates);
        var result = new float[n];
        for (var i = 0; i < n; i++)
        {
            var present = sorter.SortNonZero(i, column, out var presentWeight);
            if (present == 0) continue;
            var k = (int)Math.Floor(_trimFraction * present);
            double sum = 0, total = 0;
            for (var j = k; j < present - k; j++)
            {
                sum += column[j].Weight * column[j].Value;
                total += column[j].Weight;
            }
            result[i] = (float)(sum / total * (presentWeight / allWeight));
        }
        return result;
    }
}
