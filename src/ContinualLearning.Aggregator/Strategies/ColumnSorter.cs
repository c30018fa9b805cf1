namespace ContinualLearning.Aggregator.Strategies;

/// <summary>
/// Sorts one coordinate of every update by value, ties by weight, for the order-statistics strategies (median,
/// trimmed mean). A round at fleet scale sorts thousands of values for each of the head's parameters, so the pair is
/// packed into one <see cref="ulong"/> key — the float's bits made order-preserving in the high half, the weight's rank
/// among the round's distinct weights in the low half — and the keys are sorted as primitives: 1.6× faster than sorting
/// (value, weight) tuples through a comparer (10,000 updates × 610 coordinates: 332 against 536 ms,
/// <c>OrderStatisticsBenchmarks</c>), in exactly the same order (value first, then weight; equal ranks are equal
/// weights), so the result still does not depend on the order the deltas arrived in.
/// </summary>
internal sealed class ColumnSorter
{
    private readonly IReadOnlyList<WeightedUpdate> _updates;
    private readonly double[] _weights;
    private readonly uint[] _rank;
    private readonly ulong[] _keys;

    public ColumnSorter(IReadOnlyList<WeightedUpdate> updates)
    {
        _updates = updates;
        _weights = updates.Select(u => u.Weight).Distinct().Order().ToArray();
        _rank = updates.Select(u => (uint)Array.BinarySearch(_weights, u.Weight)).ToArray();
        _keys = new ulong[updates.Count];
    }

    /// <summary>Fills <paramref name="column"/> with coordinate <paramref name="i"/> of every update and its weight, sorted.</summary>
    public void Sort(int i, (float Value, double Weight)[] column)
    {
        for (var j = 0; j < _updates.Count; j++) _keys[j] = Key(_updates[j].Values[i], _rank[j]);
        Unpack(_updates.Count, column);
    }

    /// <summary>
    /// Like <see cref="Sort"/> for the updates whose coordinate <paramref name="i"/> is not zero (a sparse delta did not
    /// send it); returns how many, sorted at the start of <paramref name="column"/>, and their total weight.
    /// </summary>
    public int SortNonZero(int i, (float Value, double Weight)[] column, out double weight)
    {
        var count = 0;
        weight = 0;
        for (var j = 0; j < _updates.Count; j++)
        {
            var value = _updates[j].Values[i];
            if (value == 0) continue;
            _keys[count++] = Key(value, _rank[j]);
            weight += _updates[j].Weight;
        }
        Unpack(count, column);
        return count;
    }

    private void Unpack(int count, (float Value, double Weight)[] column)
    {
        Array.Sort(_keys, 0, count);
        for (var j = 0; j < count; j++) column[j] = (Value(_keys[j]), _weights[(int)(uint)_keys[j]]);
    }

    // -0 counts as 0 (float comparison treats them as equal, so the weight decides, as it would for two zeros).
    private static ulong Key(float value, uint rank)
    {
        var bits = (uint)BitConverter.SingleToInt32Bits(value == 0 ? 0f : value);
        var ordered = (bits & 0x8000_0000u) == 0 ? bits | 0x8000_0000u : ~bits;
        return ((ulong)ordered << 32) | rank;
    }

    private static float Value(ulong key)
    {
        var ordered = (uint)(key >> 32);
        var bits = (ordered & 0x8000_0000u) != 0 ? ordered & 0x7FFF_FFFFu : ~ordered;
        return BitConverter.Int32BitsToSingle((int)bits);
    }
}
