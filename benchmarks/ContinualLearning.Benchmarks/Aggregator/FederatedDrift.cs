using System.Diagnostics;
using System.Globalization;
using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Experiments.Keywords;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// The federated drift benchmark (issue 15): 21 devices in 3 groups whose concepts change at different rounds
/// (<see cref="DriftScenario"/>), each device with its own stream, the managed engine and the product strategies and
/// clustering. Every method sees the same samples. Metric: prequential accuracy of the model each device serves, on its
/// new samples before training, averaged over devices and rounds; and, per group drift, the rounds until the group's
/// accuracy is back within 2 points of its level over the 5 rounds before the drift, and the rounds until it reaches a
/// target common to every method, set by the oracle's run (<see cref="FederatedDriftRecovery"/>).
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- federated-drift [seeds] [sea|hyperplane|all|keywords]</c>
/// (<c>all</c> = SEA and hyperplane; <c>keywords</c> = the spoken-keyword stream, <see cref="KeywordBindings"/>).
/// </summary>
public static class FederatedDrift
{
    private const int Devices = 21;
    private const int Rounds = 80;
    private const int StepsPerRound = 10;
    private const int Batch = 32;
    // Keywords: a 192→16→10 head has 3,258 weights against SEA's 98, so a round is fewer, smaller steps (bounded time on
    // 2 cores): 80 samples, a sixth of the 480 clips of the device's voice family.
    private const int KeywordStepsPerRound = 5;
    private const int KeywordBatch = 16;
    private static readonly float[] ProximalMus = [0.01f, 0.1f];
    private static readonly double[] Sigmas = [0, 1, 3, 6];
    private static readonly double[] ServerRates = [0.01, 0.1];
    private static bool _trace;

    public static int Run(string[] args)
    {
        var seeds = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out var s) ? s : 3;
        var which = args.Length > 1 ? args[1] : "all";
        _trace = args.Contains("trace");
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f };
        if (which == "keywords") return RunKeywords(seeds, options);
        if (which is not ("all" or "sea" or "hyperplane"))
        {
            Console.Error.WriteLine($"federated-drift: stream '{which}' is unknown; give sea, hyperplane, all (both) or keywords.");
            return 2;
        }
        Console.WriteLine($"{Devices} devices in 3 groups, {Rounds} rounds x {StepsPerRound} steps x batch {Batch}, managed engine, SGD lr 0.1, head features→16→2, seeds 1..{seeds}");
        if (which is "all" or "sea") Report(seed => DriftScenario.Sea(), seeds, options, StepsPerRound, Batch);
        if (which is "all" or "hyperplane") Report(DriftScenario.Hyperplane, seeds, options, StepsPerRound, Batch);
        return 0;
    }

    /// <summary>
    /// The keyword stream: the full keyword corpus (generated into <see cref="KeywordCorpusGenerator.DefaultDirectory"/>
    /// when absent), embedded once through the speech pipeline with mean+max pooling and cached beside it
    /// (<see cref="KeywordEmbeddingCache"/>), z-scored per dimension; the same fleet, schedule and methods.
    /// </summary>
    private static int RunKeywords(int seeds, TrainingOptions options)
    {
        var watch = Stopwatch.StartNew();
        KeywordCorpusResult made;
        (KeywordEmbeddings Embeddings, bool Cached) embedded;
        try
        {
            made = KeywordCorpusGenerator.Generate(KeywordCorpusGenerator.DefaultDirectory(), new KeywordCorpusSpec(), Math.Min(2, Environment.ProcessorCount));
            embedded = KeywordEmbeddingCache.LoadOrEmbed(made.Corpus, PoolMode.MeanMax, KeywordBindings.Actions);
        }
        catch (Exception e) when (e is InvalidOperationException or FileNotFoundException or IOException)
        {
            Console.Error.WriteLine($"federated-drift keywords: {e.Message}");
            return 1;
        }
        var corpus = made.Corpus;
        var vectors = KeywordBindings.Standardise([.. Enumerable.Range(0, corpus.Clips.Count).Select(i => embedded.Embeddings.Vector(i, PoolMode.MeanMax))]);
        Console.WriteLine($"Keyword corpus: {corpus.Clips.Count} clips in {corpus.Directory} ({(made.Generated ? "generated" : "up to date")}), embeddings {(embedded.Cached ? "read from the cache" : "computed and cached")} in {KeywordEmbeddingCache.PathOf(corpus, PoolMode.MeanMax)} ({watch.Elapsed.TotalSeconds:F0} s so far)");
        Console.WriteLine($"Concepts: {string.Join("; ", Enumerable.Range(1, KeywordBindings.Concepts).Select(c => $"{c} {KeywordBindings.Describe(c)}"))}; device i hears voice family i mod {corpus.Spec.Accents.Count}");
        Console.WriteLine($"{Devices} devices in 3 groups, {Rounds} rounds x {KeywordStepsPerRound} steps x batch {KeywordBatch}, managed engine, SGD lr 0.1, head {vectors[0].Length}→16→{KeywordBindings.Actions.Count}, seeds 1..{seeds}");
        var scenario = DriftScenario.Keywords(corpus.Clips, vectors, corpus.Spec.Accents);
        Report(_ => scenario, seeds, options, KeywordStepsPerRound, KeywordBatch);
        Console.WriteLine();
        Console.WriteLine($"Whole keyword run: {watch.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>
    /// The methods side by side. The order is the table's; the first is the single-model baseline the others are compared with.
    /// </summary>
    private static IEnumerable<IFederatedMethod> Methods(DeviceTrainer trainer, float[] initial, DriftScenario scenario, int seed)
    {
        var fedAvg = new SingleModelMethod("FedAvg (single model)", trainer, initial, StrategyKind.FedAvg);
        yield return fedAvg;
        // FedProx (Li et al. 2020): two values of the paper's grid {0.001, 0.01, 0.1, 0.5, 1}.
        foreach (var mu in ProximalMus)
            yield return new SingleModelMethod($"FedProx μ {mu.ToString(CultureInfo.InvariantCulture)}", trainer, initial, StrategyKind.FedAvg, proximalMu: mu);
        // Server optimisers (Reddi et al. 2021; Hsu et al. 2019) with β₁ 0.9, β₂ 0.99, τ 1e-3 (the paper's and Flower's
        // defaults). FedAvgM at η 0.1 = 1 − β₁, so its steady-state step equals FedAvg's; FedAdam and FedYogi at η 0.01
        // and 0.1, the paper's usual range (their step is about η per coordinate, FedAvg's here about 0.01).
        yield return new SingleModelMethod("FedAvgM β 0.9, η 0.1", trainer, initial, StrategyKind.FedAvg,
            server: new ServerOptimizerOptions { Kind = ServerOptimizerKind.FedAvgM }, serverLearningRate: 0.1);
        foreach (var (kind, label) in new[] { (ServerOptimizerKind.FedAdam, "FedAdam"), (ServerOptimizerKind.FedYogi, "FedYogi") })
        {
            foreach (var eta in ServerRates)
                yield return new SingleModelMethod($"{label} η {eta.ToString(CultureInfo.InvariantCulture)}, τ 1e-3", trainer, initial, StrategyKind.FedAvg,
                    server: new ServerOptimizerOptions { Kind = kind }, serverLearningRate: eta);
        }
        // Krum / Multi-Krum (Blanchard et al. 2017) with f = 1 (the product's default); Multi-Krum keeps n − f.
        yield return new SingleModelMethod("Krum f 1", trainer, initial, StrategyKind.Krum);
        yield return new SingleModelMethod("Multi-Krum f 1, m n − f", trainer, initial, StrategyKind.MultiKrum);
        yield return new PersonalisedMethod(trainer, initial, Devices);
        yield return new ClusteredMethod(trainer, initial) { Trace = _trace ? Console.Out : null };
        // Keywords: devices of one concept also differ in voice, which spends clusters; the default cap (8) is then
        // reached and the least recently used idle cluster — the concept a group has just left — is evicted.
        if (scenario.Name == "keywords") yield return new ClusteredMethod(trainer, initial, new ClusteringOptions { MaxClusters = 16 });
        yield return new OracleMethod(trainer, initial, scenario, Devices);
        yield return new LocalOnlyMethod(trainer, initial, Devices);
        // DP-FedAvg: clipped only, then σ with ε per device over the run from about 80 down to under 8 (q = 1, 80 rounds).
        foreach (var sigma in Sigmas)
            yield return new PrivateMethod(trainer, initial, sigma, Rounds, fedAvg, seed);
    }

    private sealed record SeedRun(double Prequential, DriftRecoveryResult Recovery, string Summary);

    private static void Report(Func<int, DriftScenario> scenarioOf, int seeds, TrainingOptions options, int steps, int batch)
    {
        var watch = Stopwatch.StartNew();
        var results = new Dictionary<string, List<SeedRun>>();
        var order = new List<string>();
        var targets = new List<double[]>();
        DriftScenario? shown = null;
        string? oracleName = null;
        for (var seed = 1; seed <= seeds; seed++)
        {
            var scenario = scenarioOf(seed);
            shown ??= scenario;
            var trainer = new DeviceTrainer(new HeadSpec([scenario.Features, 16, scenario.Classes], LossKind.SoftmaxCrossEntropy), options, steps, batch);
            var data = Generate(scenario, trainer, seed);
            // Every method first, then the recovery measures: their common target comes from the oracle's run.
            var runs = new List<(string Name, double[,] Accuracy, string Summary)>();
            foreach (var method in Methods(trainer, trainer.Initial(seed), scenario, seed))
            {
                var accuracy = Simulate(method, trainer, data);
                runs.Add((method.Name, accuracy, method.Summary));
                if (method is OracleMethod) oracleName = method.Name;
            }
            var oracle = runs.Single(r => r.Name == oracleName).Accuracy;
            var target = FederatedDriftRecovery.CommonTargets(scenario.DriftRound, FederatedDriftRecovery.GroupSeries(scenario.Groups, oracle));
            targets.Add(target);
            foreach (var (name, accuracy, summary) in runs)
            {
                if (!results.TryGetValue(name, out var list)) { results[name] = list = []; order.Add(name); }
                var recovery = FederatedDriftRecovery.Measure(scenario.DriftRound, FederatedDriftRecovery.GroupSeries(scenario.Groups, accuracy), target);
                list.Add(new SeedRun(accuracy.Cast<double>().Average(), recovery, summary));
            }
        }
        var scenarioShown = shown!;
        Console.WriteLine();
        Console.WriteLine($"### {scenarioShown.Name}: groups A, B, C start in concepts {string.Join(", ", scenarioShown.Start)} and switch to {string.Join(", ", scenarioShown.After)} at rounds {string.Join(", ", scenarioShown.DriftRound)} ({watch.Elapsed.TotalSeconds:F0} s)");
        Console.WriteLine();
        Console.WriteLine("| Method | prequential accuracy (mean over seeds) | vs oracle (points) | vs FedAvg (points) | per seed | note (last seed) |");
        Console.WriteLine("| --- | ---: | ---: | ---: | --- | --- |");
        var fedAvg = results[order[0]].Average(r => r.Prequential);
        var oracleMean = results[oracleName!].Average(r => r.Prequential);
        foreach (var method in order)
        {
            var runs = results[method];
            var mean = runs.Average(r => r.Prequential);
            Console.WriteLine($"| {method} | {mean:P2} | {Points(mean - oracleMean)} | {Points(mean - fedAvg)} | {string.Join(" / ", runs.Select(r => r.Prequential.ToString("P1", CultureInfo.InvariantCulture)))} | {runs[^1].Summary} |");
        }
        FederatedDriftRecovery.Print(scenarioShown.DriftRound, order, results.ToDictionary(r => r.Key, r => r.Value.Select(v => v.Recovery).ToList()), targets);
    }

    private static string Points(double difference) => (difference * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);

    /// <summary>Every device's samples for every round, drawn once so all methods see the same data. Each device has its own stream per concept.</summary>
    private static DeviceRound[][] Generate(DriftScenario scenario, DeviceTrainer trainer, int seed)
    {
        var streams = new Dictionary<(int Device, int Concept), IEnumerator<Streams.Sample>>();
        var n = trainer.SamplesPerRound;
        var f = scenario.Features;
        var rounds = new DeviceRound[Rounds][];
        for (var round = 0; round < Rounds; round++)
        {
            rounds[round] = new DeviceRound[Devices];
            for (var d = 0; d < Devices; d++)
            {
                var group = d % scenario.Groups;
                var concept = scenario.ConceptOf(group, round);
                if (!streams.TryGetValue((d, concept), out var stream))
                    streams[(d, concept)] = stream = scenario.Stream(d, concept, seed * 100_000 + d * 10 + concept);
                var x = new float[n * f];
                var y = new float[n];
                for (var i = 0; i < n; i++)
                {
                    stream.MoveNext();
                    for (var j = 0; j < f; j++) x[i * f + j] = scenario.Standardise(stream.Current.Features[j]);
                    y[i] = stream.Current.Label;
                }
                rounds[round][d] = new DeviceRound(d, group, concept, x, y, n);
            }
        }
        return rounds;
    }

    /// <summary>Test-then-train: accuracy[round, device] of the served model on the round's samples, then the method learns from them.</summary>
    private static double[,] Simulate(IFederatedMethod method, DeviceTrainer trainer, DeviceRound[][] data)
    {
        var accuracy = new double[Rounds, Devices];
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var d in data[round]) accuracy[round, d.Device] = trainer.Score(method.Served(d.Device), d).Accuracy;
            method.Learn(round, data[round]);
        }
        return accuracy;
    }
}
