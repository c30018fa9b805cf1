using BenchmarkDotNet.Attributes;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// The order-statistics strategies at fleet scale: one round of the trimmed mean and of the median over 10,000 device
/// updates of a 610-parameter head (16→32→2), beside the trimmed mean's column sort done the straightforward way
/// (sorting (value, weight) tuples through a comparer) as the baseline for <see cref="ColumnSorter"/>.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*OrderStatistics*'</c>.
/// </summary>
[MemoryDiagnoser]
public class OrderStatisticsBenchmarks
{
    private WeightedUpdate[] _updates = [];

    [Params(10_000)]
    public int Devices { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _updates = [.. Enumerable.Range(0, Devices).Select(_ => new WeightedUpdate([.. Enumerable.Range(0, 610).Select(_ => (float)(rng.NextDouble() - 0.5))], 1.0 / (1 + rng.Next(3))))];
    }

    [Benchmark(Baseline = true)]
    public float TupleSortColumns()
    {
        var column = new (float Value, double Weight)[_updates.Length];
        var sum = 0f;
        for (var i = 0; i < 610; i++)
        {
            for (var j = 0; j < _updates.Length; j++) column[j] = (_updates[j].Values[i], _updates[j].Weight);
            Array.Sort(column, static (a, b) => a.Value != b.Value ? a.Value.CompareTo(b.Value) : a.Weight.CompareTo(b.Weight));
            sum += column[column.Length / 2].Value;
        }
        return sum;
    }

    [Benchmark]
    public float PackedSortColumns()
    {
        var sorter = new ColumnSorter(_updates);
        var column = new (float Value, double Weight)[_updates.Length];
        var sum = 0f;
        for (var i = 0; i < 610; i++)
        {
            sorter.Sort(i, column);
            sum += column[column.Length / 2].Value;
        }
        return sum;
    }

    [Benchmark]
    public float[] TrimmedMean() => AggregationStrategies.Aggregate(StrategyKind.TrimmedMean, _updates);

    [Benchmark]
    public float[] Median() => AggregationStrategies.Aggregate(StrategyKind.Median, _updates);

    [Benchmark]
    public float[] FedAvg() => AggregationStrategies.Aggregate(StrategyKind.FedAvg, _updates);
}
