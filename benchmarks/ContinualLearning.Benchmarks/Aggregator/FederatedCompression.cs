using System.Diagnostics;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Deltas;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// Bytes on the wire vs accuracy in a federated run, per delta compression. The setup is the one of
/// <see cref="RobustStrategies"/> (20 devices, own SEA shard each with 10% label noise, managed engine, FedAvg),
/// with an abrupt drift: concept 1 (θ = 8) for the first half of the rounds, concept 3 (θ = 7) afterwards.
/// Every delta goes through the real path: <see cref="DeltaCompressor"/> or a per-device <see cref="ErrorFeedback"/>,
/// <see cref="DeltaCodec.Encode"/> (bytes counted here), <see cref="DeltaCodec.Decode"/>, and the aggregator
/// averages what it decoded. Accuracy is measured on noise-free holdouts of concept 1 (just before the drift)
/// and concept 3 (after the last round). Every variant uses the same seeds, so the shards and the initial weights
/// are identical across variants.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- federated-compression [seeds]</c>.
/// </summary>
public static class FederatedCompression
{
    private const int Devices = 20;
    private const int Rounds = 40;
    private const int DriftRound = Rounds / 2;
    private const int StepsPerRound = 10;
    private const int Batch = 32;

    /// <summary>
    /// SEA has 3 features, so the width sits in the hidden layers. 3→128→128→2 has 17,282 parameters (69 KB as fp32):
    /// at top-k 0.1% its 128×128 weight sends 17 values and the five smaller tensors (2 to 384 elements) send the
    /// minimum of one value each, 22 values per delta. 3→256→256→2 (67,330 parameters, 269 KB) sends 71 and shows
    /// how the ratio grows once the fixed header stops dominating.
    /// </summary>
    private static readonly HeadSpec[] Heads =
    [
        new([3, 128, 128, 2], LossKind.SoftmaxCrossEntropy),
        new([3, 256, 256, 2], LossKind.SoftmaxCrossEntropy),
    ];

    /// <summary>Accuracy on the new concept this many rounds after the drift shows how fast each variant recovers.</summary>
    private const int RecoveryRounds = 3;

    private sealed record Variant(string Name, DeltaCompressionOptions Options, bool ErrorFeedback);

    private static readonly Variant[] Variants =
    [
        new("dense fp32 (uncompressed)", DeltaCompressionOptions.DenseFloat32, false),
        new("dense fp16", new DeltaCompressionOptions(1.0, DeltaEncoding.Float16), false),
        new("dense int8", DeltaCompressionOptions.DenseInt8, false),
        new("top-k 1% fp16 + EF", new DeltaCompressionOptions(0.01, DeltaEncoding.Float16), true),
        new("top-k 1% int8 + EF", new DeltaCompressionOptions(0.01, DeltaEncoding.Int8), true),
        new("top-k 1% int8, no EF", new DeltaCompressionOptions(0.01, DeltaEncoding.Int8), false),
        new("top-k 0.1% int8 + EF", new DeltaCompressionOptions(0.001, DeltaEncoding.Int8), true),
    ];

    private sealed record RunResult(double AccuracyBeforeDrift, double AccuracyAfterRecovery, double FinalAccuracy, long Bytes, int Deltas);

    public static int Run(string[] args)
    {
        var seeds = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 3;
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f };
        var holdoutBefore = new SeaGenerator(1, 0.0, 424242).Take(4000).ToArray();
        var holdoutAfter = new SeaGenerator(3, 0.0, 434343).Take(4000).ToArray();
        var emptyHeader = new DeltaHeader("sea-fed", "1.0.10", "device-00", Guid.NewGuid(), StepsPerRound * Batch, new Dictionary<string, double>(), DateTimeOffset.UtcNow);
        var fixedBytes = DeltaCodec.Encode(new WeightDelta(emptyHeader, [])).Length;
        Console.WriteLine($"SEA concept 1 → 3 at round {DriftRound}, {Devices} devices, {Rounds} rounds x {StepsPerRound} steps x batch {Batch}, managed engine, SGD lr 0.1, FedAvg, seeds 1..{seeds}");
        Console.WriteLine($"Fixed bytes per delta (header without metrics + checksum, no tensors): {fixedBytes}");
        foreach (var head in Heads)
        {
            var parameters = ParameterVector.Length(head);
            var fullFp32 = 4L * parameters;
            Console.WriteLine();
            Console.WriteLine($"Head {string.Join("→", head.LayerSizes)}: {parameters:N0} parameters, full fp32 weights {fullFp32:N0} bytes");
            Console.WriteLine($"| Variant | bytes per run ({Devices} devices × {Rounds} rounds) | bytes per delta | vs full fp32 weights | acc. before drift (concept 1) | acc. {RecoveryRounds} rounds after drift | final acc. (concept 3) | final vs uncompressed (points) | per-seed final acc. | time |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
            double? reference = null;
            foreach (var variant in Variants)
            {
                var watch = Stopwatch.StartNew();
                var runs = Enumerable.Range(1, seeds).Select(seed => Simulate(head, variant, options, holdoutBefore, holdoutAfter, seed)).ToArray();
                watch.Stop();
                var bytes = runs.Average(r => (double)r.Bytes);
                var perDelta = runs.Sum(r => (double)r.Bytes) / runs.Sum(r => r.Deltas);
                var final = runs.Average(r => r.FinalAccuracy);
                reference ??= final;
                var perSeed = string.Join(" / ", runs.Select(r => Percent(r.FinalAccuracy)));
                Console.WriteLine($"| {variant.Name} | {bytes:N0} | {perDelta:N1} | {fullFp32 / perDelta:N1}× | {Percent(runs.Average(r => r.AccuracyBeforeDrift))} % | {Percent(runs.Average(r => r.AccuracyAfterRecovery))} % | {Percent(final)} % | {(final - reference.Value) * 100:+0.00;-0.00;0.00} | {perSeed} | {watch.Elapsed.TotalSeconds:0} s |");
            }
        }
        return 0;
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private static RunResult Simulate(HeadSpec head, Variant variant, TrainingOptions options, Sample[] holdoutBefore, Sample[] holdoutAfter, int seed)
    {
        var engine = new ManagedEngine();
        IReadOnlyList<NamedTensor> global = HeadInitializer.Initialize(head, seed);
        var shards = Enumerable.Range(0, Devices).Select(d => new SeaGenerator(1, 0.1, seed * 1000 + d).GetEnumerator()).ToArray();
        // One residual per device for the whole run, as on a real device (ErrorFeedbackState keeps it across rounds).
        var feedback = Enumerable.Range(0, Devices).Select(_ => new ErrorFeedback()).ToArray();
        var x = new float[Batch * 3];
        var y = new float[Batch];
        long bytes = 0;
        var deltas = 0;
        double accuracyBeforeDrift = 0, accuracyAfterRecovery = 0;
        for (var round = 0; round < Rounds; round++)
        {
            if (round == DriftRound + RecoveryRounds) accuracyAfterRecovery = RobustStrategies.Accuracy(engine, head, options, global, holdoutAfter);
            if (round == DriftRound)
            {
                accuracyBeforeDrift = RobustStrategies.Accuracy(engine, head, options, global, holdoutBefore);
                foreach (var shard in shards) shard.Dispose();
                shards = Enumerable.Range(0, Devices).Select(d => new SeaGenerator(3, 0.1, seed * 1000 + 500 + d).GetEnumerator()).ToArray();
            }
            var globalVector = ParameterVector.Flatten(global, head);
            var baseVersion = $"1.0.{round}";
            var updates = new List<WeightedUpdate>(Devices);
            for (var d = 0; d < Devices; d++)
            {
                using var model = engine.Create(head, options, global);
                for (var step = 0; step < StepsPerRound; step++)
                {
                    for (var i = 0; i < Batch; i++)
                    {
                        shards[d].MoveNext();
                        var sample = shards[d].Current;
                        for (var f = 0; f < 3; f++) x[i * 3 + f] = (sample.Features[f] - 5f) / 2.9f;
                        y[i] = sample.Label;
                    }
                    model.TrainStep(x, y, Batch);
                }
                // The device trained from this round's global, so local − global is this round's increment.
                var delta = Delta.Compute(model.GetWeights(), global);
                var tensors = variant.ErrorFeedback ? feedback[d].Compress(delta, variant.Options) : DeltaCompressor.Compress(delta, variant.Options);
                var header = new DeltaHeader("sea-fed", baseVersion, $"device-{d:00}", Guid.NewGuid(), StepsPerRound * Batch,
                    new Dictionary<string, double>(StringComparer.Ordinal), DateTimeOffset.UtcNow);
                var payload = DeltaCodec.Encode(new WeightDelta(header, tensors));
                bytes += payload.Length;
                deltas++;
                // The aggregator only ever sees what it decoded from the wire.
                var received = DeltaCodec.Decode(payload);
                updates.Add(new WeightedUpdate(ParameterVector.Flatten(received, head), received.Header.SampleCount));
            }
            var update = AggregationStrategies.Aggregate(StrategyKind.FedAvg, updates);
            for (var i = 0; i < globalVector.Length; i++) globalVector[i] += update[i];
            global = ParameterVector.Unflatten(globalVector, head);
        }
        foreach (var shard in shards) shard.Dispose();
        return new RunResult(accuracyBeforeDrift, accuracyAfterRecovery, RobustStrategies.Accuracy(engine, head, options, global, holdoutAfter), bytes, deltas);
    }
}
