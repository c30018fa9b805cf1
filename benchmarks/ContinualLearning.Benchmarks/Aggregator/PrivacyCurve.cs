using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Deltas;
using ContinualLearning.Privacy;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// Accuracy vs ε for central DP (DP-FedAvg) on SEA, in the setup of <see cref="RobustStrategies"/>: a population of
/// devices each with its own SEA shard (concept 1, 10 % label noise); each round every device joins with probability q
/// (Poisson sampling), trains the managed engine from the global for a few micro-batches and sends challenger − global.
/// The round is the product's <see cref="AggregationRound"/> (per-device clip to C, FedAvg, <see cref="CentralNoise"/>
/// of σ·C/n with seeded noise for repeatability); ε per device over the whole run is the product's
/// <see cref="RdpAccountant"/> (Poisson-subsampled Gaussian, q, σ, rounds) at δ 1e-5. C is the median device-update
/// norm of the non-private run. Accuracy on a noise-free SEA holdout after the last round, averaged over seeds.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- federated-privacy [seeds] [devices q rounds]</c>
/// (without a population: 1000 devices at q 0.1, then 100 at q 0.2, 40 rounds each).
/// </summary>
public static class PrivacyCurve
{
    private const int StepsPerRound = 10;
    private const int Batch = 32;
    private const double TargetDelta = 1e-5;
    private static readonly double[] Sigmas = [0.6, 0.8, 1.0, 1.5, 2.5];

    public static int Run(string[] args)
    {
        var seeds = Arg(args, 0, 3);
        if (args.Length > 1)
        {
            var q = args.Length > 2 && double.TryParse(args[2], System.Globalization.CultureInfo.InvariantCulture, out var rate) ? rate : 0.1;
            Curve(seeds, Arg(args, 1, 1000), q, Arg(args, 3, 40));
            return 0;
        }
        // The default: a large population (~100 devices a round), then a small one (~20 a round) to show what the
        // number of devices per round does to the same noise multipliers.
        Curve(seeds, 1000, 0.1, 40);
        Console.WriteLine();
        Curve(seeds, 100, 0.2, 40);
        return 0;
    }

    private static void Curve(int seeds, int devices, double q, int rounds)
    {
        var head = new HeadSpec([3, 16, 2], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f };
        var holdout = new SeaGenerator(1, 0.0, 424242).Take(4000).ToArray();
        var setup = new Setup(head, options, holdout, devices, q, rounds);
        Console.WriteLine($"SEA concept 1, {devices} devices, each joins a round with q = {q} (~{devices * q:0} per round), {rounds} rounds x {StepsPerRound} steps x batch {Batch}, head {head}, managed engine, FedAvg, {seeds} seeds; ε per device over the whole run at δ {TargetDelta}");

        var norms = new List<double>();
        var baseline = Mean(seeds, seed => Simulate(setup, clip: null, sigma: 0, seed, seed == 1 ? norms : null));
        norms.Sort();
        var clip = norms[norms.Count / 2];
        Console.WriteLine($"clip C = {clip:0.####} (median device-update norm of the non-private run, {norms.Count} updates)");
        Console.WriteLine("| Run | σ | ε (δ 1e-5) | Noise std on the mean (σ·C/n̄) | Final accuracy (mean over seeds) | vs non-private (points) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        Console.WriteLine($"| non-private | - | ∞ | 0 | {baseline:P2} | 0.00 |");
        var clipped = Mean(seeds, seed => Simulate(setup, clip, 0, seed, null));
        Console.WriteLine($"| clipped, no noise | 0 | ∞ | 0 | {clipped:P2} | {(clipped - baseline) * 100:+0.00;-0.00;0.00} |");
        foreach (var sigma in Sigmas)
        {
            var eps = RdpAccountant.Epsilon(q, sigma, rounds, TargetDelta);
            var acc = Mean(seeds, seed => Simulate(setup, clip, sigma, seed, null));
            Console.WriteLine($"| DP-FedAvg | {sigma} | {eps:0.00} | {sigma * clip / (devices * q):0.#####} | {acc:P2} | {(acc - baseline) * 100:+0.00;-0.00;0.00} |");
        }
        Console.WriteLine($"naive baseline (majority class of the holdout): {Math.Max(holdout.Count(s => s.Label == 1), holdout.Count(s => s.Label == 0)) / (double)holdout.Length:P2}");
    }

    private sealed record Setup(HeadSpec Head, TrainingOptions Options, Sample[] Holdout, int Devices, double Q, int Rounds);

    private static int Arg(string[] args, int i, int fallback) => args.Length > i && int.TryParse(args[i], out var v) ? v : fallback;

    private static double Mean(int seeds, Func<int, double> run) => Enumerable.Range(1, seeds).Select(run).Average();

    private static double Simulate(Setup s, double? clip, double sigma, int seed, List<double>? norms)
    {
        var engine = new ManagedEngine();
        IReadOnlyList<NamedTensor> global = HeadInitializer.Initialize(s.Head, seed);
        var shards = Enumerable.Range(0, s.Devices).Select(d => new SeaGenerator(1, 0.1, seed * 100_000 + d).GetEnumerator()).ToArray();
#pragma warning disable CA5394 // Participation coins of a repeatable benchmark.
        var coins = new Random(seed);
#pragma warning restore CA5394
        var noise = GaussianNoise.Seeded(seed);
        var aggregation = new AggregationOptions
        {
            Strategy = StrategyKind.FedAvg,
            MinDevices = 1,
            StalenessAlpha = 0,
            Privacy = new CentralPrivacyOptions { NoiseMultiplier = sigma, Delta = TargetDelta },
        };
        var validation = new ValidationOptions { MaxNorm = clip, NormClipMode = NormClipMode.Clip, MaxNewClasses = 0 };
        var layout = new OutputLayout(s.Head, null);
        var x = new float[Batch * 3];
        var y = new float[Batch];
        for (var round = 0; round < s.Rounds; round++)
        {
            var pending = new List<BufferedDelta>();
            for (var d = 0; d < s.Devices; d++)
            {
                if (coins.NextDouble() >= s.Q) continue;
                using var model = engine.Create(s.Head, s.Options, global);
                RobustStrategies.TrainSteps(model, shards[d], StepsPerRound, x, y);
                var delta = Delta.Compute(model.GetWeights(), global);
                norms?.Add(Math.Sqrt(delta.Sum(t => t.Data.Sum(v => (double)v * v))));
                var id = Guid.NewGuid();
                var header = new DeltaHeader("sea", "1.0.0", $"d{d}", id, StepsPerRound * Batch, new Dictionary<string, double>(), DateTimeOffset.UnixEpoch);
                var payload = DeltaCodec.Encode(new WeightDelta(header, DeltaCompressor.Compress(delta, DeltaCompressionOptions.DenseFloat32)));
                pending.Add(new BufferedDelta(new PendingDelta(id.ToString("D"), $"d{d}", "1.0.0", StepsPerRound * Batch, DateTimeOffset.UnixEpoch, payload), 0, false));
            }
            if (pending.Count == 0) continue;
            var result = AggregationRound.Run(global, layout, pending, aggregation, validation, noise: noise);
            global = result.Weights!;
        }
        return RobustStrategies.Accuracy(engine, s.Head, s.Options, global, s.Holdout);
    }
}
