using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// Personalisation (FedPer: shared hidden layer, personal output layer) and FedProx against the plain global model, on
/// each device's own held-out data. 20 devices train the managed engine for a few micro-batches per round from the
/// current global (personalised: the global's shared layer with the device's own output layer,
/// <see cref="PersonalLayers.Merge"/>), send the shared tensors' delta (<see cref="PersonalLayers.Shared"/>; the
/// personal ones are unsent, i.e. zero in the aggregate), and the server applies FedAvg. FedProx adds
/// <see cref="ProximalPenalty"/> (μ ∈ {0, 0.01, 0.1, 1}) anchored at the weights each round starts from. Two fleets: devices that differ (device
/// d in SEA concept d mod 4 + 1: same features, decision thresholds 8, 9, 7, 9.5 on f1 + f2 — the fleet's concept groups,
/// and exactly what a shared feature layer with a per-device output layer can represent) and devices that do not (iid
/// SEA concept 1). Accuracy is measured after the last round on 1,000 noise-free samples of each device's own concept.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- federated-personalisation [seeds]</c>.
/// </summary>
public static class Personalisation
{
    private const int Devices = 20;
    private const int Rounds = 30;
    private const int StepsPerRound = 10;
    private const int Batch = 32;
    private const int HoldoutPerDevice = 1000;

    public static int Run(string[] args)
    {
        var seeds = args.Length > 0 && int.TryParse(args[0], out var s) ? s : 3;
        var head = new HeadSpec([3, 16, 2], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f };
        Console.WriteLine($"SEA, {Devices} devices, {Rounds} rounds x {StepsPerRound} steps x batch {Batch}, head {head}, FedAvg, managed engine, {seeds} seeds; " +
            $"accuracy on each device's own {HoldoutPerDevice} held-out samples, mean over devices and seeds");
        Console.WriteLine("| Devices | Model | FedProx μ | Accuracy on own data | Worst device | vs global μ=0 (points) | Worst device vs global (points) | vs global by concept 1/2/3/4 (points) | Majority class |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var differ in new[] { true, false })
        {
            var fleet = differ ? "differ (own SEA concept)" : "do not differ (iid SEA)";
            var global = PerDevice(seeds, seed => Simulate(head, options, differ, personal: false, mu: 0, seed));
            var majority = PerDevice(seeds, seed => Majority(differ, seed)).Average();
            var mus = differ ? new[] { 0f, 0.01f, 0.1f, 1f } : [0f];
            foreach (var personal in new[] { false, true })
            {
                foreach (var mu in mus)
                {
                    var acc = personal || mu > 0 ? PerDevice(seeds, seed => Simulate(head, options, differ, personal, mu, seed)) : global;
                    var gains = acc.Zip(global, (a, g) => a - g).ToArray();
                    Console.WriteLine($"| {fleet} | {(personal ? "personalised (shared body, personal output layer)" : "global")} | {mu:0.##} | {acc.Average():P2} | {acc.Min():P2} | " +
                        $"{Points(gains.Average())} | {Points(gains.Min())} | {(differ ? ByConcept(gains) : "")} | {majority:P2} |");
                }
            }
        }
        return 0;
    }

    private static string Points(double difference) => (difference * 100).ToString("+0.00;-0.00;0.00", System.Globalization.CultureInfo.InvariantCulture);

    private static string ByConcept(double[] gains) =>
        string.Join(" / ", Enumerable.Range(1, 4).Select(c => Points(Enumerable.Range(0, Devices).Where(d => Concept(true, d) == c).Average(d => gains[d]))));

    /// <summary>Each device's accuracy averaged over the seeds (seeds fix the data, so devices pair up across models).</summary>
    private static double[] PerDevice(int seeds, Func<int, double[]> run)
    {
        var sum = new double[Devices];
        for (var seed = 1; seed <= seeds; seed++)
        {
            var one = run(seed);
            for (var d = 0; d < Devices; d++) sum[d] += one[d] / seeds;
        }
        return sum;
    }

    private static int Concept(bool differ, int device) => differ ? device % 4 + 1 : 1;

    private static Sample[] Holdout(bool differ, int device, int seed) =>
        new SeaGenerator(Concept(differ, device), 0.0, seed * 1000 + 500 + device).Take(HoldoutPerDevice).ToArray();

    private static double[] Majority(bool differ, int seed) => [.. Enumerable.Range(0, Devices).Select(d =>
    {
        var ones = Holdout(differ, d, seed).Count(x => x.Label == 1) / (double)HoldoutPerDevice;
        return Math.Max(ones, 1 - ones);
    })];

    private static double[] Simulate(HeadSpec head, TrainingOptions options, bool differ, bool personal, float mu, int seed)
    {
        var engine = new ManagedEngine();
        var personalNames = PersonalLayers.TensorNames(head, personal ? 1 : 0);
        IReadOnlyList<NamedTensor> global = HeadInitializer.Initialize(head, seed);
        var own = Enumerable.Range(0, Devices).Select(_ => global).ToArray();
        var shards = Enumerable.Range(0, Devices).Select(d => new SeaGenerator(Concept(differ, d), 0.1, seed * 1000 + d).GetEnumerator()).ToArray();
        var x = new float[Batch * 3];
        var y = new float[Batch];
        for (var round = 0; round < Rounds; round++)
        {
            var updates = new List<WeightedUpdate>();
            for (var d = 0; d < Devices; d++)
            {
                // What the device serves after installing the release: the fleet's shared layers and its own personal ones.
                var start = personal ? PersonalLayers.Merge(head, global, own[d], 1).Weights : global;
                using var model = engine.Create(head, options, start);
                model.SetPenalty(ProximalPenalty.Combine(null, start, mu, personalNames));
                RobustStrategies.TrainSteps(model, shards[d], StepsPerRound, x, y);
                own[d] = model.GetWeights();
                updates.Add(new WeightedUpdate(Update(head, PersonalLayers.Shared(own[d], personalNames), global), StepsPerRound * Batch));
            }
            var update = AggregationStrategies.Aggregate(StrategyKind.FedAvg, updates, new StrategyOptions());
            var vector = ParameterVector.Flatten(global, head);
            for (var i = 0; i < vector.Length; i++) vector[i] += update[i];
            global = ParameterVector.Unflatten(vector, head);
        }
        return [.. Enumerable.Range(0, Devices).Select(d =>
            RobustStrategies.Accuracy(engine, head, options, personal ? PersonalLayers.Merge(head, global, own[d], 1).Weights : global, Holdout(differ, d, seed)))];
    }

    /// <summary>The sent tensors' change from the global as a dense update; a tensor not sent counts as zero, as at the aggregator.</summary>
    internal static float[] Update(HeadSpec head, IReadOnlyList<NamedTensor> sent, IReadOnlyList<NamedTensor> global)
    {
        var local = sent.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var update = new float[ParameterVector.Length(head)];
        var offset = 0;
        foreach (var g in global)
        {
            if (local.TryGetValue(g.Name, out var t))
                for (var i = 0; i < g.Count; i++) update[offset + i] = t.Data[i] - g.Data[i];
            offset += g.Count;
        }
        return update;
    }
}
