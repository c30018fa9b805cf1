using System.Text.Json;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>The numbers of one aggregation round, stored with the version it made (<see cref="Registry.ModelVersionRecord.MetricsJson"/>).</summary>
internal sealed record RoundMetrics(int Deltas, int Dropped, int Devices, long Samples, double MeanStaleness, double UpdateNorm)
{
    /// <summary>Classes new to the fleet the round appended to the head (the names are in the version's decisions).</summary>
    public int NewClasses { get; init; }

    /// <summary>The server optimiser that made the step; written to the JSON only when it is not plain SGD.</summary>
    public ServerOptimizerKind ServerOptimizer { get; init; }

    /// <summary>
    /// The version's metrics JSON: the round's numbers, the holdout accuracies when the gate ran, and the strategy as
    /// its <see cref="StrategyKind"/> number.
    /// </summary>
    public string ToJson(HoldoutVerdict? holdout, StrategyKind strategy)
    {
        var metrics = new Dictionary<string, double>
        {
            ["deltas"] = Deltas,
            ["dropped"] = Dropped,
            ["devices"] = Devices,
            ["samples"] = Samples,
            ["meanStaleness"] = MeanStaleness,
            ["updateNorm"] = UpdateNorm,
        };
        if (NewClasses > 0) metrics["newClasses"] = NewClasses;
        if (holdout is not null)
        {
            metrics["holdoutAccuracy"] = holdout.Candidate;
            metrics["holdoutBaseline"] = holdout.Current;
        }
        metrics["strategy"] = (double)strategy;
        if (ServerOptimizer != ServerOptimizerKind.Sgd) metrics["serverOptimizer"] = (double)ServerOptimizer;
        return JsonSerializer.Serialize(metrics, AggregatorJson.Default.DictionaryStringDouble);
    }
}
