namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Krum and Multi-Krum (Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
/// Descent"; Flower's <c>krum.py</c>). Each update is scored by the sum of its squared L2 distances to its n − f − 2
/// nearest other updates (f = the assumed number of Byzantine devices); Krum returns the update with the lowest score,
/// Multi-Krum the mean of the m lowest-scoring ones (weighted by the round's weights, i.e. the staleness discount:
/// <see cref="WeighsBySamples"/> is false, so a device's claimed sample count buys it neither a better score nor a larger
/// share of the mean). The guarantee holds for n ≥ 2f + 3 (<see cref="MinUpdates"/>): the round keeps the deltas buffered
/// with fewer devices, and the configuration refuses <c>aggregation:minDevices</c> below it. Called directly with fewer,
/// it still answers (n − f − 2 is raised to 1, as Flower does) but guarantees nothing.
/// <para>
/// Sparse top-k deltas: distances are taken over the dense vectors, a coordinate a device did not send counting as zero.
/// Unlike the trimmed mean's per-coordinate order statistics, where the zeros of the devices that did not send a
/// coordinate would outvote the few that did, Krum compares whole updates, and an unsent coordinate is what that device
/// changes there this round (the device's error feedback carries the rest into its next delta). Measuring only over the
/// coordinates both updates carry would put a delta of one coordinate next to everyone and let it win every round.
/// The cost is Krum's known preference for short updates: with very sparse, disjoint deltas the shortest ones score
/// best, which the round's per-device norm clipping keeps from being a lever for an attacker (it bounds the long ones).
/// </para>
/// Ties in score are broken by the vectors' values and then the weights, so the result does not depend on arrival order.
/// </summary>
internal sealed class KrumStrategy : IAggregationStrategy
{
    private readonly int _byzantine;
    private readonly int _keep;

    /// <param name="byzantine">f: how many of the updates may be arbitrary (≥ 0).</param>
    /// <param name="keep">m: how many best-scored updates Multi-Krum averages; 1 is Krum, 0 means n − f.</param>
    public KrumStrategy(int byzantine, int keep)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byzantine);
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        _byzantine = byzantine;
        _keep = keep;
    }

    public bool WeighsBySamples => false;

    /// <summary>2f + 3: the fewest updates for which Krum's selection is Byzantine-resilient (n > 2f + 2).</summary>
    public int MinUpdates => 2 * _byzantine + 3;

    public float[] Aggregate(IReadOnlyList<WeightedUpdate> updates)
    {
        AggregationMath.Check(updates);
        var n = updates.Count;
        var order = Scores(updates);
        var keep = _keep == 0 ? n - _byzantine : _keep;
        // Never more than n − f: past it the mean would have to include updates Krum ranks as possibly Byzantine.
        keep = Math.Clamp(Math.Min(keep, n - _byzantine), 1, n);
        return keep == 1
            ? (float[])updates[order[0]].Values.Clone()
            : AggregationMath.WeightedMean(order.Take(keep).Select(i => updates[i]).ToArray());
    }

    /// <summary>Indices of the updates from best (lowest) to worst Krum score.</summary>
    private int[] Scores(IReadOnlyList<WeightedUpdate> updates)
    {
        var n = updates.Count;
        var distances = new double[n, n];
        for (var i = 0; i < n; i++)
            for (var j = i + 1; j < n; j++)
                distances[i, j] = distances[j, i] = SquaredDistance(updates[i].Values, updates[j].Values);
        var neighbours = Math.Min(Math.Max(1, n - _byzantine - 2), n - 1);
        var scores = new double[n];
        var row = new double[n - 1];
        for (var i = 0; i < n; i++)
        {
            var k = 0;
            for (var j = 0; j < n; j++)
                if (j != i) row[k++] = distances[i, j];
            // Sorted before summing: the same numbers added in the same order whatever order the updates came in.
            Array.Sort(row);
            double score = 0;
            for (var j = 0; j < neighbours; j++) score += row[j];
            scores[i] = score;
        }
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) =>
        {
            var c = scores[a].CompareTo(scores[b]);
            if (c != 0) return c;
            c = updates[a].Values.AsSpan().SequenceCompareTo(updates[b].Values);
            return c != 0 ? c : updates[a].Weight.CompareTo(updates[b].Weight);
        });
        return order;
    }

    private static double SquaredDistance(float[] a, float[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var d = (double)a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }
}
