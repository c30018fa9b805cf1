using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The packed-key sort gives exactly the order of sorting (value, weight) pairs: value first, then weight.</summary>
public sealed class ColumnSorterTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Sorts_like_value_then_weight_with_ties_signs_and_zeros(int seed)
    {
        var rng = new Random(seed);
        float[] pool = [0f, -0f, 1f, -1f, 0.5f, -0.5f, float.Epsilon, -float.Epsilon, 3.4e38f, -3.4e38f, 1e-30f];
        double[] weights = [1, 2, 0.5, 1e-9, 3];
        var updates = Enumerable.Range(0, 200).Select(_ => new WeightedUpdate(
            [.. Enumerable.Range(0, 4).Select(c => c == 0 ? pool[rng.Next(pool.Length)] : (float)(rng.NextDouble() - 0.5))],
            weights[rng.Next(weights.Length)])).ToArray();
        var sorter = new ColumnSorter(updates);
        var column = new (float Value, double Weight)[updates.Length];
        for (var i = 0; i < 4; i++)
        {
            sorter.Sort(i, column);
            var expected = updates.Select(u => (Value: u.Values[i], u.Weight)).OrderBy(x => x.Value).ThenBy(x => x.Weight).ToArray();
            Assert.Equal(expected.Select(x => ((double)x.Value, x.Weight)), column.Select(x => ((double)x.Value, x.Weight)));

            var count = sorter.SortNonZero(i, column, out var weight);
            var nonZero = expected.Where(x => x.Value != 0).ToArray();
            Assert.Equal(nonZero.Length, count);
            Assert.Equal(nonZero.Sum(x => x.Weight), weight, 12);
            Assert.Equal(nonZero.Select(x => ((double)x.Value, x.Weight)), column.Take(count).Select(x => ((double)x.Value, x.Weight)));
        }
    }
}
