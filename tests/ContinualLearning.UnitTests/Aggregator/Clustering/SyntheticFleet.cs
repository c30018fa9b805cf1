using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

/// <summary>
/// A fleet without a learner: a model is a point w, a device's concept a point c, the loss of w on the device's recent
/// data ‖w − c‖² plus measurement noise, and a round of local training moves w halfway to a noisy c. Enough to drive
/// <see cref="ConceptClustering"/> and <see cref="ClusterModels"/> through the protocol the product would run.
/// Its losses are squared distances, not nats, so it runs with margins suited to that scale (<see cref="ToyScale"/>).
/// </summary>
internal sealed class SyntheticFleet
{
    private readonly Random _rng;
    private readonly Dictionary<string, float[]> _local = new(StringComparer.Ordinal);

    /// <summary>Margins for this fleet's loss scale (squared distances of a few units, measurement noise 0.01).</summary>
    public static readonly ClusteringOptions ToyScale = new() { DriftMargin = 0.15, LocalMargin = 0.05, MergeDistance = 0.05 };

    public SyntheticFleet(IReadOnlyList<float[]> concepts, int seed, ClusteringOptions? options = null, int samples = 100)
    {
        _rng = new Random(seed);
        Concepts = concepts.Select(c => (float[])c.Clone()).ToArray();
        Samples = samples;
        Clustering = new ConceptClustering(options ?? ToyScale);
        Models = new ClusterModels(Clustering.InitialCluster, new float[concepts[0].Length]);
    }

    /// <summary>Concept of device i (devices are "d00", "d01", …); change an entry to drift that device.</summary>
    public float[][] Concepts { get; }

    public int Samples { get; set; }

    public ConceptClustering Clustering { get; }

    public ClusterModels Models { get; }

    public static string Id(int device) => $"d{device:D2}";

    public ClusteringDecision Round(int round)
    {
        var reports = new List<LossReport>();
        var deltas = new Dictionary<string, WeightedUpdate>(StringComparer.Ordinal);
        for (var d = 0; d < Concepts.Length; d++)
        {
            var id = Id(d);
            var cluster = Clustering.ClusterOf(id);
            var start = Models[cluster];
            var losses = Models.Clusters.ToDictionary(c => c, c => Loss(Models[c], Concepts[d]));
            double? local = _local.TryGetValue(id, out var own) ? Loss(own, Concepts[d]) : null;
            var trained = start.Select((w, i) => w + 0.5f * (Concepts[d][i] + Noise(0.1) - w)).ToArray();
            _local[id] = trained;
            reports.Add(new LossReport(id, cluster, losses, local, Samples));
            deltas[id] = new WeightedUpdate(trained.Select((w, i) => w - start[i]).ToArray(), Samples);
        }
        var decision = Clustering.Decide(round, reports);
        Models.Apply(decision, deltas);
        return decision;
    }

    /// <summary>Devices grouped by the cluster they are in.</summary>
    public IReadOnlyDictionary<int, string[]> Membership() =>
        Enumerable.Range(0, Concepts.Length).GroupBy(d => Clustering.ClusterOf(Id(d))).ToDictionary(g => g.Key, g => g.Select(Id).ToArray());

    private double Loss(float[] w, float[] c) => w.Select((v, i) => (double)(v - c[i]) * (v - c[i])).Sum() + Noise(0.01);

    private float Noise(double sd)
    {
        // Box–Muller: normal noise from the seeded generator, so a run is a function of its seed.
        var u = 1.0 - _rng.NextDouble();
        return (float)(sd * Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * _rng.NextDouble()));
    }
}
