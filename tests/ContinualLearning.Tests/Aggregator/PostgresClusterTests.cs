using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;
using ContinualLearning.Tensors;
using Npgsql;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>
/// Concept-aware aggregation on a real PostgreSQL registry: the clustering step's transaction (creation, moved deltas,
/// state) commits there, and an aggregator on another host resumes the same clusters and assignments from it.
/// </summary>
public sealed class PostgresClusterTests : IDisposable
{
    private const string Model = AggregatorTestKit.Model;
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForBrokerTests();

    public void Dispose() => _kit.Dispose();

    [PostgresFact]
    public async Task A_cluster_created_on_one_host_is_resumed_by_another_with_its_assignments()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var broker = await MosquittoBroker.StartAsync();
        _kit.SeedPostgres(postgres.ConnectionString);
        AggregatorOptions Host(string name) => _kit.Options(broker.Port, "pgclusters", name, o => o with
        {
            RegistryPath = Path.Combine(_kit.Root, name),
            RegistryConnectionString = postgres.ConnectionString,
            Validation = o.Validation with { MaxStaleness = 8 },
            Aggregation = o.Aggregation with
            {
                MinDevices = 1,
                Clustering = new FleetClusteringOptions { Enabled = true, Thresholds = new ClusteringOptions { GraceRounds = 0, MinSamples = 10 } },
            },
        });

        var a = new AggregatorService(Host("host-a"));
        await a.StartAsync();
        foreach (var d in new[] { "a1", "a2" }) Assert.True(a.Receive(d, Delta(d, Model, "1.0.0", new ClusterReport(0, new Dictionary<int, double> { [0] = 0.3 }, 0.3, 100))).Accepted);
        foreach (var d in new[] { "b1", "b2" }) Assert.True(a.Receive(d, Delta(d, Model, "1.0.0", new ClusterReport(0, new Dictionary<int, double> { [0] = 0.9 }, 0.3, 100))).Accepted);
        await a.AggregateAllAsync(force: true);
        Assert.Equal("postgres", a.Registry.Backend);
        var c1 = a.Registry.Clusters.ByModel(Model + ".c1")!;
        Assert.Equal(("b1", Model, "1.0.0"), (c1.CreatorDevice, c1.ParentModel, c1.ParentVersion));
        // b2 moves next round: its delta to cluster 0 is dropped.
        Assert.True(a.Receive("b2", Delta("b2", Model, "1.1.0", new ClusterReport(0, new Dictionary<int, double> { [0] = 0.9, [1] = 0.3 }, 0.3, 100))).Accepted);
        await a.AggregateAllAsync(force: true);
        Assert.Contains(a.Registry.Rejections.Recent(50), r => r.Reason == RejectionReason.ClusterMoved && r.DeviceId == "b2");
        var state = a.Registry.Clusters.GetState(Model)!;
        await a.DisposeAsync();

        await using var b = new AggregatorService(Host("host-b"));
        await b.StartAsync();
        var resumed = b.Registry.Clusters.GetState(Model)!;
        Assert.Equal((state.Round, state.DirectorySequence), (resumed.Round, resumed.DirectorySequence));
        Assert.Equal(state.State.Devices, resumed.State.Devices);
        Assert.Contains(resumed.State.Devices, d => d.DeviceId == "b2" && d.Cluster == 1);
        Assert.True(b.Receive("b2", Delta("b2", Model + ".c1", "1.0.0", new ClusterReport(1, new Dictionary<int, double> { [0] = 0.9, [1] = 0.3 }, 0.3, 100))).Accepted);
        var made = await b.AggregateAllAsync(force: true);
        Assert.Contains(made, v => v.Name == Model + ".c1" && v.Version == "1.1.0" && v.DeviceIds.SequenceEqual(["b2"]));

        // The creator's delta is recorded under the cluster model's first version, nowhere else.
        await using var sql = new NpgsqlConnection(postgres.ConnectionString);
        await sql.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT v.name, v.version FROM version_deltas v JOIN seen_deltas s USING(delta_id) WHERE s.device_id = 'b1'", sql);
        await using var r = await query.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal((Model + ".c1", "1.0.0"), (r.GetString(0), r.GetString(1)));
        Assert.False(await r.ReadAsync());
    }

    private byte[] Delta(string device, string model, string baseVersion, ClusterReport report)
    {
        var metrics = new Dictionary<string, double>();
        report.WriteTo(metrics);
        var dense = _kit.Head.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(0.01f, p.Shape.Aggregate(1, (x, y) => x * y)).ToArray())).ToArray();
        var header = new DeltaHeader(model, baseVersion, device, Guid.NewGuid(), 100, metrics, DateTimeOffset.UtcNow);
        return DeltaCodec.Encode(new WeightDelta(header, DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseFloat32)));
    }
}
