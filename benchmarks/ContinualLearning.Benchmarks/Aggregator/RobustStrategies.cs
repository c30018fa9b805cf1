using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// Robust strategies (median, trimmed mean, norm clipping, Krum, Multi-Krum) vs FedAvg with 20% bad devices, in a real federated setup: 20 devices each hold their own SEA
/// shard (concept 1, 10% label noise, own seed), train the managed engine from the current global for a few
/// micro-batches per round, and send challenger − global. Bad devices send that delta sign-flipped (×−1), sign-flipped and
/// scaled (×−10) or scaled (×10). The global model's accuracy is measured on a separate noise-free SEA holdout after the last round.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- aggregator-robustness [seeds]</c>.
/// </summary>
public static class RobustStrategies
{
    private const int Devices = 20;
    private const int Rounds = 30;
    private const int StepsPerRound = 10;
    private const int Batch = 32;

    public static int Run(string[] args)
    {
        var seeds = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 3;
        var head = new HeadSpec([3, 16, 2], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f };
        var holdout = new SeaGenerator(1, 0.0, 424242).Take(4000).ToArray();
        Console.WriteLine($"SEA concept 1, {Devices} devices, {Rounds} rounds x {StepsPerRound} steps x batch {Batch}, head {head}, managed engine, {seeds} seeds");
        Console.WriteLine("| Setup | Strategy | Final accuracy (mean over seeds) | vs clean FedAvg (points) |");
        Console.WriteLine("| --- | --- | --- | --- |");
        var clean = Mean(seeds, seed => Simulate(head, options, holdout, StrategyKind.FedAvg, Attack.None, seed));
        Console.WriteLine($"| clean | FedAvg | {clean:P2} | 0.00 |");
        foreach (var attack in new[] { Attack.SignFlip, Attack.SignFlipX10, Attack.Scale })
        {
            foreach (var kind in new[] { StrategyKind.FedAvg, StrategyKind.Median, StrategyKind.TrimmedMean, StrategyKind.NormClip, StrategyKind.Krum, StrategyKind.MultiKrum })
            {
                var acc = Mean(seeds, seed => Simulate(head, options, holdout, kind, attack, seed));
                Console.WriteLine($"| 20% {attack} | {kind} | {acc:P2} | {(acc - clean) * 100:+0.00;-0.00;0.00} |");
            }
        }
        return 0;
    }

    private enum Attack
    {
        None,
        SignFlip,
        SignFlipX10,
        Scale,
    }

    private static double Mean(int seeds, Func<int, double> run) => Enumerable.Range(1, seeds).Select(run).Average();

    private static double Simulate(HeadSpec head, TrainingOptions options, Sample[] holdout, StrategyKind kind, Attack attack, int seed)
    {
        var engine = new ManagedEngine();
        IReadOnlyList<NamedTensor> global = HeadInitializer.Initialize(head, seed);
        var shards = Enumerable.Range(0, Devices).Select(d => new SeaGenerator(1, 0.1, seed * 1000 + d).GetEnumerator()).ToArray();
        var bad = attack == Attack.None ? 0 : Devices / 5;
        var x = new float[Batch * 3];
        var y = new float[Batch];
        // Krum assumes the true share of attackers (f = 4 of 20); Multi-Krum averages the n − f best-scored updates.
        var strategyOptions = new StrategyOptions { TrimFraction = 0.25, ClipNorm = 1.0, ByzantineDevices = Devices / 5 };
        for (var round = 0; round < Rounds; round++)
        {
            var globalVector = ParameterVector.Flatten(global, head);
            var updates = new List<WeightedUpdate>();
            for (var d = 0; d < Devices; d++)
            {
                using var model = engine.Create(head, options, global);
                TrainSteps(model, shards[d], StepsPerRound, x, y);
                var local = ParameterVector.Flatten(model.GetWeights(), head);
                var delta = new float[local.Length];
                for (var i = 0; i < delta.Length; i++) delta[i] = local[i] - globalVector[i];
                if (d < bad)
                {
                    var factor = attack switch { Attack.SignFlip => -1f, Attack.SignFlipX10 => -10f, _ => 10f };
                    for (var i = 0; i < delta.Length; i++) delta[i] *= factor;
                }
                updates.Add(new WeightedUpdate(delta, StepsPerRound * Batch));
            }
            var update = AggregationStrategies.Aggregate(kind, updates, strategyOptions);
            for (var i = 0; i < globalVector.Length; i++) globalVector[i] += update[i];
            global = ParameterVector.Unflatten(globalVector, head);
        }
        return Accuracy(engine, head, options, global, holdout);
    }

    /// <summary>
    /// <paramref name="steps"/> micro-batches of the shard's next SEA samples (features standardised; batch = y's length).
    /// Shared by the federated runners.
    /// </summary>
    internal static void TrainSteps(IHeadModel model, IEnumerator<Sample> shard, int steps, float[] x, float[] y)
    {
        for (var step = 0; step < steps; step++)
        {
            for (var i = 0; i < y.Length; i++)
            {
                shard.MoveNext();
                var sample = shard.Current;
                for (var f = 0; f < 3; f++) x[i * 3 + f] = (sample.Features[f] - 5f) / 2.9f;
                y[i] = sample.Label;
            }
            model.TrainStep(x, y, y.Length);
        }
    }

    /// <summary>Accuracy of <paramref name="weights"/> on SEA samples (features standardised as the shards are). Shared by the federated runners.</summary>
    internal static double Accuracy(ManagedEngine engine, HeadSpec head, TrainingOptions options, IReadOnlyList<NamedTensor> weights, Sample[] samples)
    {
        using var model = engine.Create(head, options, weights);
        var x = new float[samples.Length * 3];
        for (var i = 0; i < samples.Length; i++)
            for (var f = 0; f < 3; f++) x[i * 3 + f] = (samples[i].Features[f] - 5f) / 2.9f;
        var output = new float[samples.Length * 2];
        model.Predict(x, samples.Length, output);
        var correct = 0;
        for (var i = 0; i < samples.Length; i++)
            if ((output[i * 2 + 1] > output[i * 2] ? 1 : 0) == samples[i].Label) correct++;
        return (double)correct / samples.Length;
    }
}
