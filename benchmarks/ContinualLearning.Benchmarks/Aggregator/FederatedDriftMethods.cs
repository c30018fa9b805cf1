using System.Globalization;
using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Privacy;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// One way of running the fleet. Each round the runner asks every device's served model (<see cref="Served"/>) and scores
/// it on the device's new samples before anything trains on them (test-then-train), then hands all devices' samples to
/// <see cref="Learn"/>, which trains on the devices and aggregates on the server.
/// </summary>
internal interface IFederatedMethod
{
    string Name { get; }

    /// <summary>The model (flattened) device <paramref name="device"/> serves during the coming round.</summary>
    float[] Served(int device);

    void Learn(int round, IReadOnlyList<DeviceRound> data);

    /// <summary>A short note for the table (e.g. the number of clusters at the end), or empty.</summary>
    string Summary { get; }
}

/// <summary>
/// One global model; every device trains from it and the server combines the deltas with a registered strategy
/// (<see cref="StrategyKind"/>: FedAvg, Krum, Multi-Krum), then takes the product's server-optimiser step
/// (<paramref name="server"/>, η <paramref name="serverLearningRate"/>: FedAvgM, FedAdam, FedYogi; their state lives
/// here between rounds as it lives with each version in the registry). FedProx is <paramref name="proximalMu"/> &gt; 0,
/// the device-side proximal term (<see cref="DeviceTrainer.Train"/>).
/// </summary>
internal sealed class SingleModelMethod(string name, DeviceTrainer trainer, float[] initial, StrategyKind kind, StrategyOptions? options = null,
    float proximalMu = 0, ServerOptimizerOptions? server = null, double serverLearningRate = 1) : IFederatedMethod
{
    private readonly float[] _global = (float[])initial.Clone();
    private readonly List<double> _norms = [];
    private readonly IServerOptimizer _optimizer = ServerOptimizers.Create(server ?? new ServerOptimizerOptions(), serverLearningRate);
    private ServerOptimizerState? _state;

    public string Name => name;

    public string Summary => "";

    /// <summary>The L2 norm of every device update so far (the DP rows clip at their median).</summary>
    public IReadOnlyList<double> UpdateNorms => _norms;

    public float[] Served(int device) => _global;

    public void Learn(int round, IReadOnlyList<DeviceRound> data)
    {
        var updates = data.Select(d => new WeightedUpdate(DeviceTrainer.Delta(trainer.Train(_global, d, proximalMu), _global), d.Count)).ToArray();
        _norms.AddRange(updates.Select(u => AggregationMath.L2Norm(u.Values)));
        var step = _optimizer.Step(_state, AggregationStrategies.Aggregate(kind, updates, options));
        _state = step.State;
        DeviceTrainer.AddInPlace(_global, step.Update);
    }
}

/// <summary>
/// Personalisation (FedPer): each device serves and trains the fleet's shared layers with its own output layer
/// (<see cref="PersonalLayers.Merge"/>), sends only the shared tensors (<see cref="PersonalLayers.Shared"/>; the personal
/// ones count as zero in the aggregate, as at the aggregator), and the server applies FedAvg to the shared body.
/// </summary>
internal sealed class PersonalisedMethod(DeviceTrainer trainer, float[] initial, int devices) : IFederatedMethod
{
    private const int PersonalLayerCount = 1;
    private readonly IReadOnlySet<string> _personal = PersonalLayers.TensorNames(trainer.Head, PersonalLayerCount);
    private readonly float[] _global = (float[])initial.Clone();
    private readonly IReadOnlyList<NamedTensor>[] _own = [.. Enumerable.Range(0, devices).Select(_ => ParameterVector.Unflatten(initial, trainer.Head))];

    public string Name => "personalised (FedPer: shared body, personal output layer)";

    public string Summary => "";

    public float[] Served(int device) =>
        ParameterVector.Flatten(PersonalLayers.Merge(trainer.Head, ParameterVector.Unflatten(_global, trainer.Head), _own[device], PersonalLayerCount).Weights, trainer.Head);

    public void Learn(int round, IReadOnlyList<DeviceRound> data)
    {
        var globalWeights = ParameterVector.Unflatten(_global, trainer.Head);
        var updates = new List<WeightedUpdate>();
        foreach (var d in data)
        {
            var trained = ParameterVector.Unflatten(trainer.Train(Served(d.Device), d), trainer.Head);
            _own[d.Device] = trained;
            updates.Add(new WeightedUpdate(Personalisation.Update(trainer.Head, PersonalLayers.Shared(trained, _personal), globalWeights), d.Count));
        }
        DeviceTrainer.AddInPlace(_global, AggregationStrategies.Aggregate(StrategyKind.FedAvg, updates));
    }
}

/// <summary>
/// DP-FedAvg with central noise: every device's update is clipped to C and averaged (the product's norm-clip strategy,
/// what the round does with <c>validation:maxNorm</c>), then <see cref="CentralNoise"/> adds N(0, (σ·C/n)²) per
/// coordinate (seeded, for repeatability). C is the median device-update norm of the same seed's FedAvg run, read when
/// this method first aggregates. Every device is in every round (q = 1), so ε per device over the run is the product's
/// <see cref="RdpAccountant"/> for q 1, σ, <c>rounds</c> steps at δ 1e-5.
/// </summary>
internal sealed class PrivateMethod(DeviceTrainer trainer, float[] initial, double sigma, int rounds, SingleModelMethod reference, int seed) : IFederatedMethod
{
    public const double Delta = 1e-5;
    private readonly float[] _global = (float[])initial.Clone();
    private readonly GaussianNoise _noise = GaussianNoise.Seeded(seed);
    private double? _clip;
    private double _noiseStd;

    public double Epsilon { get; } = sigma > 0 ? RdpAccountant.Epsilon(1.0, sigma, rounds, Delta) : double.PositiveInfinity;

    public string Name => sigma > 0
        ? $"DP-FedAvg σ {sigma.ToString(CultureInfo.InvariantCulture)} (ε {Epsilon.ToString("0.0", CultureInfo.InvariantCulture)} at δ 1e-5)"
        : "FedAvg clipped, no noise (ε ∞)";

    public string Summary => $"clip C {_clip:0.###}, noise std σC/n {_noiseStd:0.####}";

    public float[] Served(int device) => _global;

    public void Learn(int round, IReadOnlyList<DeviceRound> data)
    {
        var clip = _clip ??= Median(reference.UpdateNorms);
        var updates = data.Select(d => new WeightedUpdate(DeviceTrainer.Delta(trainer.Train(_global, d), _global), d.Count)).ToArray();
        var aggregate = AggregationStrategies.Aggregate(StrategyKind.NormClip, updates, new StrategyOptions { ClipNorm = clip });
        if (sigma > 0)
            _noiseStd = CentralNoise.Apply(aggregate, updates.Select(u => u.Weight).ToArray(), clip, new CentralPrivacyOptions { NoiseMultiplier = sigma, Delta = Delta }, _noise).NoiseStd;
        DeviceTrainer.AddInPlace(_global, aggregate);
    }

    private static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new InvalidOperationException("The DP rows clip at the FedAvg run's median update norm: run FedAvg first.");
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}

/// <summary>
/// Concept-aware aggregation (<see cref="ConceptClustering"/>): every device serves its cluster's model, trains from it,
/// and reports the loss of every cluster model and of its own previous model on its new samples; the server decides the
/// assignments, creations and merges and aggregates per cluster.
/// </summary>
internal sealed class ClusteredMethod(DeviceTrainer trainer, float[] initial, ClusteringOptions? options = null, StrategyKind kind = StrategyKind.FedAvg) : IFederatedMethod
{
    private readonly ConceptClustering _clustering = new(options);
    private readonly Dictionary<int, float[]> _local = [];
    private ClusterModels? _models;
    private int _maxClusters = 1;

    public string Name => options is null ? "clustered (concept-aware)" : $"clustered (concept-aware), at most {options.MaxClusters} clusters";

    /// <summary>Where to write a per-round line of assignments (the runner's <c>trace</c> argument), or null.</summary>
    public TextWriter? Trace { get; init; }

    public string Summary => $"{Models.Clusters.Count} clusters at the end, at most {_maxClusters}";

    private ClusterModels Models => _models ??= new ClusterModels(_clustering.InitialCluster, initial);

    public float[] Served(int device) => Models[_clustering.ClusterOf($"device-{device:D2}")];

    public void Learn(int round, IReadOnlyList<DeviceRound> data)
    {
        var reports = new List<LossReport>();
        var deltas = new Dictionary<string, WeightedUpdate>(StringComparer.Ordinal);
        foreach (var d in data)
        {
            var cluster = _clustering.ClusterOf(d.Id);
            var start = Models[cluster];
            // Per-sample losses on the same samples, as the device's ClusterScorer: their means, and with a local model
            // each cluster's standard error of the paired difference (PairedLoss), computed the same way.
            var perSample = Models.Clusters.ToDictionary(id => id, id => trainer.Losses(Models[id], d));
            var losses = perSample.ToDictionary(p => p.Key, p => p.Value.Average());
            var own = _local.TryGetValue(d.Device, out var previous) ? trainer.Losses(previous, d) : null;
            double? local = own?.Average();
            var errors = own is null ? null : perSample.Where(p => PairedLoss.StandardError(p.Value, own) is not null)
                .ToDictionary(p => p.Key, p => PairedLoss.StandardError(p.Value, own)!.Value);
            var trained = trainer.Train(start, d);
            _local[d.Device] = trained;
            reports.Add(new LossReport(d.Id, cluster, losses, local, d.Count, errors));
            deltas[d.Id] = new WeightedUpdate(DeviceTrainer.Delta(trained, start), d.Count);
        }
        var decision = _clustering.Decide(round, reports);
        Models.Apply(decision, deltas, kind);
        _maxClusters = Math.Max(_maxClusters, Models.Clusters.Count);
        if (Trace is { } trace)
        {
            // Which cluster each group's devices are in after the round (A, B, C = device % 3), and what changed.
            var groups = data.GroupBy(d => d.Group).OrderBy(g => g.Key).Select(g => $"{(char)('A' + g.Key)}[c{g.First().Concept}]:{string.Join("", g.Select(d => _clustering.ClusterOf(d.Id)))}");
            trace.WriteLine($"round {round,2}: {string.Join("  ", groups)}  created {string.Join(",", decision.Created.Select(c => $"{c.Cluster}<-{c.Parent} by {c.Creator}"))} merged {string.Join(",", decision.Merged.Select(m => $"{m.Absorbed}->{m.Survivor} d={m.Distance:F3}"))} retired {string.Join(",", decision.Retired)}");
        }
    }
}

/// <summary>
/// The oracle: it knows every group's current concept and keeps one FedAvg model per concept; the devices of a group
/// train and serve the model of their group's concept. A concept met for the first time starts from the model the
/// group used before (the best starting point a real system could have).
/// </summary>
internal sealed class OracleMethod(DeviceTrainer trainer, float[] initial, DriftScenario scenario, int devices) : IFederatedMethod
{
    private readonly Dictionary<int, float[]> _byConcept = [];
    private int _round;

    public string Name => "oracle (one model per true concept)";

    public string Summary => "";

    public float[] Served(int device)
    {
        var group = device % scenario.Groups;
        var concept = scenario.ConceptOf(group, _round);
        if (!_byConcept.TryGetValue(concept, out var model))
        {
            var previous = _round > 0 ? scenario.ConceptOf(group, _round - 1) : concept;
            model = _byConcept.TryGetValue(previous, out var p) ? (float[])p.Clone() : (float[])initial.Clone();
            _byConcept[concept] = model;
        }
        return model;
    }

    public void Learn(int round, IReadOnlyList<DeviceRound> data)
    {
        foreach (var byConcept in data.GroupBy(d => d.Concept))
        {
            var model = _byConcept[byConcept.Key];
            var updates = byConcept.Select(d => new WeightedUpdate(DeviceTrainer.Delta(trainer.Train(model, d), model), d.Count)).ToArray();
            DeviceTrainer.AddInPlace(model, AggregationStrategies.Aggregate(StrategyKind.FedAvg, updates));
        }
        _round = round + 1;
        for (var d = 0; d < devices; d++) Served(d);
    }
}

/// <summary>The naive baseline: every device trains its own model on its own samples and never shares anything.</summary>
internal sealed class LocalOnlyMethod(DeviceTrainer trainer, float[] initial, int devices) : IFederatedMethod
{
    private readonly float[][] _models = [.. Enumerable.Range(0, devices).Select(_ => (float[])initial.Clone())];

    public string Name => "local only (no federation)";

    public string Summary => "";

    public float[] Served(int device) => _models[device];

    public void Learn(int round, IReadOnlyList<DeviceRound> data)
    {
        foreach (var d in data) _models[d.Device] = trainer.Train(_models[d.Device], d);
    }
}
