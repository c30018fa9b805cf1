using System.Collections.Concurrent;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Clustering;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Aggregator.Clustering;

/// <summary>
/// Concept-aware aggregation in the service, end to end on a real SQLite registry, real release keys and the embedded
/// broker: two groups whose loss reports fit different concepts split into two cluster models, a moved device's delta
/// is dropped, a merge retires a cluster, the signed directory follows, and a restart resumes the same clusters.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ClusterAggregationTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture), IDisposable
{
    private const string Model = AggregatorTestKit.Model;
    private const string Cluster1 = Model + ".c1";
    private static readonly string[] GroupA = ["a1", "a2", "a3"];
    private static readonly string[] GroupB = ["b1", "b2", "b3"];
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task Clustering_off_ignores_reports_and_refuses_cluster_models_as_before()
    {
        await using var service = await StartAsync(clustering: false);
        foreach (var d in GroupB) Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", Report(0, (0, 0.9)), local: 0.3)).Accepted);
        Assert.Equal(RejectionReason.UnknownModel, service.Receive("a1", Delta("a1", Cluster1, "1.0.0", Report(1, (1, 0.3)))).Reason);
        var made = await service.AggregateAllAsync(force: true);
        Assert.Equal([Model], made.Select(v => v.Name));
        Assert.Empty(service.Registry.Clusters.List(Model));
        Assert.Null(service.Registry.Clusters.GetState(Model));
    }

    [Fact]
    public async Task Two_concepts_split_a_moved_delta_is_dropped_a_merge_retires_and_a_restart_resumes()
    {
        var directories = new ConcurrentQueue<ClusterDirectory>();
        var releases = new ConcurrentQueue<Release>();
        var watcher = Client("watch");
        watcher.MessageReceived += m =>
        {
            var topic = FleetTopics.TryParse(m.Topic);
            if (topic?.Kind == FleetTopicKind.ModelClusters) directories.Enqueue(FleetJson.ReadClusterDirectory(m.Payload));
            else if (m.Topic == FleetTopics.Release(Fleet, Cluster1)) releases.Enqueue(FleetJson.ReadRelease(m.Payload));
            return Task.CompletedTask;
        };
        await watcher.SubscribeAsync(FleetTopics.Clusters(Fleet, Model));
        await watcher.SubscribeAsync(FleetTopics.Release(Fleet, Cluster1));
        await watcher.StartAsync();
        using var publicKey = ReleaseKeys.LoadPublic(_kit.PublicKeyPath);

        var service = await StartAsync();
        // Round 1: everyone trained from cluster 0; group B's own models beat it by far (another concept): b1 creates cluster 1.
        foreach (var d in GroupA) Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", Report(0, (0, 0.3)), local: 0.3)).Accepted);
        foreach (var d in GroupB) Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", Report(0, (0, 0.9)), local: 0.3, value: 0.05f)).Accepted);
        var made = await service.AggregateAllAsync(force: true);

        var c1 = Assert.Single(service.Registry.Clusters.Live(Model), c => c.Cluster == 1);
        Assert.Equal((Cluster1, Model, "1.0.0", "b1"), (c1.ModelName, c1.ParentModel, c1.ParentVersion, c1.CreatorDevice));
        var first = service.Registry.GetVersion(Cluster1, "1.0.0")!;
        Assert.Equal((VersionStatus.Released, "b1"), (first.Status, Assert.Single(first.DeviceIds)));
        Assert.Equal(DecisionKind.ClusterCreated, Assert.Single(service.Registry.Decisions.List(Cluster1, "1.0.0")).Decision);
        // Its weights are the parent release plus b1's delta (0.05 everywhere), i.e. b1's own model.
        var parentHead = RegistryModels.Load(service.Registry, service.Registry.GetVersion(Model, "1.0.0")!).Bundle.HeadWeights;
        var child = RegistryModels.Load(service.Registry, first).Bundle;
        Assert.Equal((Cluster1, "1.0.0", (string?)null), (child.Manifest.Name, child.Manifest.Version, child.Manifest.ParentVersion));
        var childHead = child.HeadWeights;
        Assert.All(parentHead.Zip(childHead), p => Assert.All(p.First.Data.Zip(p.Second.Data), v => Assert.Equal(v.First + 0.05f, v.Second, 1e-6f)));
        // Cluster 0's round used everyone else's delta (b1's went into cluster 1).
        var v110 = Assert.Single(made, v => v.Name == Model);
        Assert.Equal(["a1", "a2", "a3", "b2", "b3"], v110.DeviceIds.Order(StringComparer.Ordinal));

        // The signed release of the new cluster model is on its own topic.
        var release = await WaitUntil(() => releases.LastOrDefault(), r => r is not null, "the release of sea.c1");
        Assert.Equal(("1.0.0", Cohorts.All), (release!.Version, release.Cohort));
        Assert.True(ReleaseSigner.Verify(release, publicKey).Ok);
        var directory = await WaitUntil(() => directories.LastOrDefault(d => d.Clusters.Count == 2), d => d is not null, "a directory with two clusters");
        Assert.True(ClusterDirectorySigner.Verify(directory!, publicKey).Ok);
        Assert.Equal([(0, Model), (1, Cluster1)], directory!.Clusters.Select(c => (c.Cluster, c.ModelName)));
        Assert.Equal(new Dictionary<string, int> { ["b1"] = 1 }, directory.Assignments);

        // Round 2: b2 and b3 trained from cluster 0 but cluster 1 fits them: they move, and their deltas (relative to cluster 0) are dropped.
        foreach (var d in GroupA) Assert.True(service.Receive(d, Delta(d, Model, "1.1.0", Report(0, (0, 0.3), (1, 0.9)), local: 0.3)).Accepted);
        foreach (var d in new[] { "b2", "b3" }) Assert.True(service.Receive(d, Delta(d, Model, "1.1.0", Report(0, (0, 0.9), (1, 0.3)), local: 0.3)).Accepted);
        Assert.True(service.Receive("b1", Delta("b1", Cluster1, "1.0.0", Report(1, (0, 0.9), (1, 0.3)), local: 0.3)).Accepted);
        made = await service.AggregateAllAsync(force: true);

        Assert.Equal([(Model, "1.2.0"), (Cluster1, "1.1.0")], made.Select(v => (v.Name, v.Version)));
        Assert.Equal(["a1", "a2", "a3"], made[0].DeviceIds.Order(StringComparer.Ordinal));
        Assert.Equal(["b1"], made[1].DeviceIds);
        var moved = service.Registry.Rejections.Recent(100).Where(r => r.Reason == RejectionReason.ClusterMoved).ToArray();
        Assert.Equal(["b2", "b3"], moved.Select(r => r.DeviceId).Order(StringComparer.Ordinal));
        Assert.All(moved, r => Assert.Contains("from cluster 0 to cluster 1", r.Message, StringComparison.Ordinal));
        Assert.Equal(0, service.Registry.Deltas.PendingCount(Model));
        var sequenceBefore = service.Registry.Clusters.GetState(Model)!.DirectorySequence;
        var assignmentsBefore = service.Registry.Clusters.GetState(Model)!.State.Devices;
        await service.DisposeAsync();

        // Restart on the same registry: the same clusters, assignments and directory sequence; deltas for sea.c1 are accepted at once.
        service = await StartAsync();
        Assert.Equal([0, 1], service.Registry.Clusters.Live(Model).Select(c => c.Cluster));
        Assert.Equal(assignmentsBefore, service.Registry.Clusters.GetState(Model)!.State.Devices);
        // The sequence continues (a reset would make every device ignore the next directories). It may be higher: a
        // release of round 2 that the first instance had not finished is made on resume and changes the directory.
        Assert.True(service.Registry.Clusters.GetState(Model)!.DirectorySequence >= sequenceBefore);
        Assert.True(service.Receive("b2", Delta("b2", Cluster1, "1.1.0", Report(1, (0, 0.3), (1, 0.3)), local: 0.3)).Accepted);

        // Round 3: both models now serve both groups equally well (same concept): cluster 1 merges into cluster 0 and is retired.
        foreach (var d in GroupA) Assert.True(service.Receive(d, Delta(d, Model, "1.2.0", Report(0, (0, 0.3), (1, 0.3)), local: 0.3)).Accepted);
        await service.AggregateAllAsync(force: true);
        var retired = service.Registry.Clusters.ByModel(Cluster1)!;
        Assert.Equal((false, (int?)0), (retired.Live, retired.MergedInto));
        Assert.Equal(DecisionKind.ClusterRetired, service.Registry.Decisions.List(Cluster1, "1.1.0")[^1].Decision);
        Assert.Contains(service.Registry.Rejections.Recent(100), r => r.Reason == RejectionReason.RetiredCluster && r.DeviceId == "b2");
        var last = await WaitUntil(() => directories.LastOrDefault(d => d.Clusters.Count == 1 && d.Sequence > sequenceBefore), d => d is not null, "a directory without cluster 1");
        Assert.True(ClusterDirectorySigner.Verify(last!, publicKey).Ok);
        Assert.Empty(last!.Assignments);
        var sequences = directories.Select(d => d.Sequence).Distinct().ToArray();
        Assert.Equal(sequences.Order(), sequences);
        // A delta for the retired cluster is refused with the reason.
        var refused = service.Receive("b3", Delta("b3", Cluster1, "1.1.0", Report(1, (1, 0.3))));
        Assert.Equal(RejectionReason.RetiredCluster, refused.Reason);
        Assert.Contains("merged into cluster 0", refused.Message, StringComparison.Ordinal);
        Assert.Equal(RejectionReason.UnknownModel, service.Receive("b3", Delta("b3", Model + ".c7", "1.0.0", null)).Reason);
        await service.DisposeAsync();
    }

    [Fact]
    public async Task A_forged_directory_fails_verification_and_the_sequence_is_signed()
    {
        await using var service = await StartAsync();
        foreach (var d in GroupB) Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", Report(0, (0, 0.9)), local: 0.3)).Accepted);
        await service.AggregateAllAsync(force: true);
        var stored = FleetJson.ReadClusterDirectory(System.Text.Encoding.UTF8.GetBytes(service.Registry.Clusters.GetState(Model)!.DirectoryJson!));
        using var publicKey = ReleaseKeys.LoadPublic(_kit.PublicKeyPath);
        Assert.True(ClusterDirectorySigner.Verify(stored, publicKey).Ok);
        // An attacker moving a device, or replaying with a higher sequence, breaks the signature.
        Assert.False(ClusterDirectorySigner.Verify(stored with { Assignments = new Dictionary<string, int> { ["a1"] = 1 } }, publicKey).Ok);
        Assert.False(ClusterDirectorySigner.Verify(stored with { Sequence = stored.Sequence + 1 }, publicKey).Ok);
    }

    [Fact]
    public async Task An_idle_tick_does_not_wait_for_the_write_lock_and_a_new_report_does()
    {
        // The service's own loop sleeps (1 h ticks): every tick here is one this test runs.
        await using var service = await StartAsync(configure: o => o with { Tick = TimeSpan.FromHours(1) });
        await service.AggregateAllAsync(); // the first tick stores the state and signs the first directory
        var stored = service.Registry.Clusters.GetState(Model)!;

        // Another connection holds the registry's only write lock; idle ticks (no new report, no new release) only read.
        using (HoldWriteLock())
        {
            // Off the test's thread: a tick blocked on the lock would block its caller until SQLite's 30 s busy timeout.
            for (var i = 0; i < 3; i++) Assert.Empty(await Task.Run(() => service.AggregateAllAsync()).WaitAsync(TimeSpan.FromSeconds(10)));
        }
        Assert.Equal(stored.DirectorySequence, service.Registry.Clusters.GetState(Model)!.DirectorySequence);

        // A delta with a report that was not counted yet: the step takes the lock (waits for it), then decides.
        foreach (var d in GroupB) Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", Report(0, (0, 0.9)), local: 0.3)).Accepted);
        Task<IReadOnlyList<ModelVersionRecord>> tick;
        using (HoldWriteLock())
        {
            tick = Task.Run(() => service.AggregateAllAsync());
            await Task.Delay(500);
            Assert.False(tick.IsCompleted, "a tick with a new report must run the clustering step under the lock");
        }
        await tick.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(service.Registry.Clusters.Live(Model), c => c.Cluster == 1);
        Assert.True(service.Registry.Clusters.GetState(Model)!.DirectorySequence > stored.DirectorySequence);
    }

    [Fact]
    public async Task A_cluster_created_under_central_privacy_continues_its_parents_epsilon()
    {
        await using var service = await StartAsync(configure: o => o with
        {
            Validation = o.Validation with { MaxNorm = 1, MaxNewClasses = 0 },
            Aggregation = o.Aggregation with { Strategy = StrategyKind.FedAvg, Privacy = new ContinualLearning.Aggregator.Privacy.CentralPrivacyOptions { NoiseMultiplier = 1 } },
            Rollout = new RolloutOptions { Canary = false },
        });
        // Round 1: a noisy round of cluster 0 (no reports: nobody moves), released at once.
        foreach (var d in GroupA) Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", null)).Accepted);
        Assert.Equal([(Model, "1.1.0")], (await service.AggregateAllAsync(force: true)).Select(v => (v.Name, v.Version)));
        var parent = service.Registry.GetVersion(Model, "1.1.0")!;
        Assert.Equal(VersionStatus.Released, parent.Status);
        var parentEpsilon = Metric(parent.MetricsJson, "dpEpsilonModel");
        Assert.True(parentEpsilon > 0);

        // Round 2: b1's own model beats cluster 0 by far: cluster 1 is created from sea 1.1.0 plus b1's delta, without noise.
        foreach (var d in GroupB) Assert.True(service.Receive(d, Delta(d, Model, "1.1.0", Report(0, (0, 0.9)), local: 0.3)).Accepted);
        await service.AggregateAllAsync(force: true);
        var first = service.Registry.GetVersion(Cluster1, "1.0.0")!;
        Assert.Equal(["b1"], first.DeviceIds);
        Assert.True(Metric(first.MetricsJson, "dpEpsilonModel") >= parentEpsilon);
        Assert.Equal(Metric(parent.MetricsJson, "dpInverseVarianceSum"), Metric(first.MetricsJson, "dpInverseVarianceSum"));
        // b1's delta joined the cluster's model without noise: the record says the model's ε no longer bounds the release.
        Assert.Equal(1, Metric(first.MetricsJson, "dpRoundsWithoutNoise"));
        var shown = ContinualLearning.Aggregator.Privacy.PrivacyRecord.Describe(first.MetricsJson);
        Assert.Contains(FormattableString.Invariant($"ε model {parentEpsilon:0.###}"), shown, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.08, false)] // 0.1 advantage ≤ 0.03 + 1 × 0.08 (these tests' confidence 1): within the noise of the report's samples
    [InlineData(0.01, true)] // 0.1 > 0.03 + 1 × 0.01
    [InlineData(-0.08, true)] // a negative standard error is left out at reading (the codec refuses non-finite metrics): the margin alone decides
    public async Task A_local_advantage_within_its_standard_error_creates_no_cluster(double se, bool creates)
    {
        await using var service = await StartAsync();
        foreach (var d in GroupB)
        {
            var report = Report(0, (0, 0.4)) with { StandardErrors = new Dictionary<int, double> { [0] = se } };
            Assert.True(service.Receive(d, Delta(d, Model, "1.0.0", report, local: 0.3)).Accepted);
        }
        await service.AggregateAllAsync(force: true);
        Assert.Equal(creates, service.Registry.Clusters.Live(Model).Any(c => c.Cluster == 1));
    }

    private static double Metric(string metricsJson, string key)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(metricsJson);
        return doc.RootElement.TryGetProperty(key, out var v) ? v.GetDouble() : double.NaN;
    }

    /// <summary>Takes the SQLite registry's write lock on a connection of its own, until disposed (rolled back).</summary>
    private Microsoft.Data.Sqlite.SqliteConnection HoldWriteLock()
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_kit.RegistryPath, ModelRegistry.DatabaseFileName)};Pooling=False");
        connection.Open();
        using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE";
        begin.ExecuteNonQuery();
        return connection;
    }

    private async Task<AggregatorService> StartAsync(bool clustering = true, Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var options = _kit.Options(Fixture.Broker.Port, Fleet, configure: o => (configure ?? (x => x))(o with
        {
            Validation = o.Validation with { MaxStaleness = 8 },
            Aggregation = o.Aggregation with
            {
                MinDevices = 1,
                Clustering = new FleetClusteringOptions { Enabled = clustering, Thresholds = new ClusteringOptions { GraceRounds = 0, MinSamples = 10, LocalConfidence = 1 } },
            },
        }));
        var service = new AggregatorService(options);
        await service.StartAsync();
        return service;
    }

    private static ClusterReport Report(int cluster, params (int Cluster, double Loss)[] losses) =>
        new(cluster, losses.ToDictionary(l => l.Cluster, l => l.Loss), null, 100);

    private byte[] Delta(string device, string model, string baseVersion, ClusterReport? report, double? local = null, float value = 0.01f)
    {
        var metrics = new Dictionary<string, double>();
        (report is null ? null : report with { LocalLoss = local })?.WriteTo(metrics);
        var dense = _kit.Head.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(value, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray())).ToArray();
        var header = new DeltaHeader(model, baseVersion, device, Guid.NewGuid(), 100, metrics, DateTimeOffset.UtcNow);
        return DeltaCodec.Encode(new WeightDelta(header, DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseFloat32)));
    }
}
