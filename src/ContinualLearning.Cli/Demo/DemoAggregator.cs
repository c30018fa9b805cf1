using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Console;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Tensors;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// The demo's aggregator: the real <see cref="AggregatorService"/> (validation, durable SQLite registry, FedBuff
/// buffering, aggregation strategy, signed chunked releases, canary rollout with automatic promotion or rollback),
/// configured for a short run, plus the glue the UI and summary need (counters, version history, weights).
/// </summary>
internal sealed class DemoAggregator : IAsyncDisposable
{
    private readonly DemoOptions _options;
    private readonly DemoState _state;
    private readonly AggregatorService _service;
    private readonly CancellationTokenSource _stop = new();
    private readonly FleetMqttClient _monitor;
    private int _deltasSeen;
    private Task? _refresh;

    public DemoAggregator(DemoOptions options, string host, int port, DemoPki? pki, string registryDirectory, string privateKeyPath,
        string baseBundleDirectory, IReadOnlyList<string> canaryDevices, DemoState state, string? commandKeyPath = null, ConsoleOptions? console = null)
    {
        _options = options;
        _state = state;
        // Seed the registry with the base model as the released global version (what `cl model publish` does).
        using (var registry = ModelRegistry.Open(registryDirectory))
            RegistryModels.Import(registry, baseBundleDirectory, VersionStatus.Released);
        _service = new AggregatorService(new AggregatorOptions
        {
            Fleet = options.Fleet,
            ModelName = options.ModelName,
            RegistryPath = registryDirectory,
            PrivateKeyPath = privateKeyPath,
            CommandKeyPath = commandKeyPath,
            Console = console ?? new ConsoleOptions(),
            BrokerHost = host,
            BrokerPort = port,
            // Its own certificate (CN aggregator:demo): the fleet ACL lets only aggregators publish releases.
            Tls = pki is not null,
            TlsCaFile = pki?.CaFile,
            TlsCertFile = pki?.Aggregator.CertificateFile,
            TlsKeyFile = pki?.Aggregator.KeyFile,
            InstanceId = $"{options.Fleet}-aggregator",
            Tick = TimeSpan.FromMilliseconds(250),
            Validation = new ValidationOptions { MaxStaleness = 4, MaxNorm = 10, NormClipMode = NormClipMode.Reject },
            Aggregation = new AggregationOptions
            {
                BufferSize = options.AggregationBuffer,
                MaxWait = options.AggregationTimeout,
                // Coordinate-wise median / trimmed mean zero out top-k sparse deltas (most coordinates come from one
                // device), so the defence against --poison is per-delta norm clipping plus the canary.
                Strategy = options.Poison > 0 ? StrategyKind.NormClip : StrategyKind.FedAvg,
                StrategyOptions = new StrategyOptions { ClipNorm = options.ClipNorm },
                // --clusters: the product's concept-aware aggregation (docs/federated.md). The demo's devices report
                // losses over one training run's fresh samples (≈ 160–200, 10 % label noise: a mean cross-entropy
                // with a standard error of ≈ 0.03 nats) and fine-tune between releases, so their champion often beats
                // the release by the default LocalMargin (0.03) for reasons that are not a different concept. The
                // report's standard errors (LocalConfidence) discount the sampling noise but not that freshness: with
                // 4 devices a cluster of one or two rarely gets a new release, and 4–5 clusters stayed live. Here only
                // a real loss rise (DriftMargin) splits the fleet, and clusters this close on each other's data merge.
                Clustering = new ContinualLearning.Aggregator.Clustering.FleetClusteringOptions
                {
                    Enabled = options.Clusters,
                    Thresholds = new ContinualLearning.Aggregator.Clustering.ClusteringOptions { LocalMargin = 0.25, MergeDistance = 0.05 },
                },
            },
            Rollout = new RolloutOptions
            {
                Canary = true,
                CanaryDevices = canaryDevices,
                AccuracyMargin = options.CanaryTolerance,
                MinReports = 4,
                Window = 4 * options.AggregationTimeout + TimeSpan.FromSeconds(4),
            },
        }, new DemoLogger<AggregatorService>(state, "aggregator"));
        // A read-only observer of the delta topic: what reached the aggregator, whatever it then decided. It holds the
        // operator certificate: operators may read every fleet topic, devices may not read each other's deltas.
        _monitor = new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = $"{options.Fleet}-demo-monitor",
            Host = host,
            Port = port,
            CleanStart = true,
            Tls = pki is null ? null : DemoPki.Tls(pki.Operator),
        });
        _monitor.MessageReceived += m =>
        {
            if (m.Payload.Length == 0) return Task.CompletedTask;
            Interlocked.Increment(ref _deltasSeen);
            return Task.CompletedTask;
        };
    }

    /// <summary>Which implementation this is, for the summary.</summary>
    public static string Component => nameof(AggregatorService);

    /// <summary>Where the fleet console is served; null without <c>--console</c>.</summary>
    public Uri? ConsoleAddress => _service.ConsoleAddress;

    public async Task StartAsync(CancellationToken ct)
    {
        await _monitor.StartAsync(ct);
        await _monitor.SubscribeAsync(FleetTopics.AllDevices(_options.Fleet, FleetTopicKind.DeviceDelta), cancellationToken: ct);
        await _service.StartAsync(ct);
        _refresh = Task.Run(() => RefreshLoopAsync(_stop.Token), CancellationToken.None);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_refresh is not null) await _refresh;
        Refresh();
        await _service.StopAsync();
        await _monitor.StopAsync();
    }

    /// <summary>The version every device is meant to run (the last released one).</summary>
    public string CurrentVersion => _service.Registry.Latest(_options.ModelName, VersionStatus.Released)!.Version;

    /// <summary>The head weights of <paramref name="model"/> <paramref name="version"/> in the registry, for the held-out evaluation.</summary>
    public IReadOnlyList<NamedTensor> Weights(string model, string version) =>
        RegistryModels.Load(_service.Registry, _service.Registry.GetVersion(model, version)
            ?? throw new InvalidOperationException($"{model} {version} is not in the demo's registry.")).Bundle.HeadWeights;

    /// <summary>The model and every cluster the aggregator made of it (live and retired), cluster 0 first; just the model without <c>--clusters</c>.</summary>
    public IReadOnlyList<ClusterRecord> Clusters
    {
        get
        {
            var clusters = _service.Registry.Clusters.List(_options.ModelName);
            return clusters.Count > 0 ? clusters : [new ClusterRecord(_options.ModelName, 0, _options.ModelName, null, null, null, 0, DateTimeOffset.MinValue)];
        }
    }

    /// <summary>The release every device of <paramref name="model"/> is meant to run (its last released version).</summary>
    public string? CurrentRelease(string model) => _service.Registry.Latest(model, VersionStatus.Released)?.Version;

    /// <summary>Releases (with their chunk counts) of the model and its clusters that were published retained, so a shared broker can be cleaned.</summary>
    public IReadOnlyList<(string Model, string Version, int Chunks)> PublishedVersions =>
        Clusters.SelectMany(c => _service.Registry.ListVersions(c.ModelName))
            .Where(v => v.Status is not VersionStatus.Rejected and not VersionStatus.Candidate)
            .Select(v => (v.Name, v.Version, BundlePackager.Split(_service.Registry.Artifacts.Read(v.ArtifactSha256), v.Name, v.Version).Count))
            .ToArray();

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _service.DisposeAsync();
        await _monitor.DisposeAsync();
        _stop.Dispose();
    }

    private async Task RefreshLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Refresh();
        }
    }

    /// <summary>Copies the service's counters and registry history into the shared stats.</summary>
    private void Refresh()
    {
        var stats = _state.Aggregator;
        var counters = _service.Counters;
        stats.DeltasAccepted = (int)counters.Accepted;
        stats.DeltasRejected = (int)counters.TotalRejected;
        stats.DeltasReceived = Volatile.Read(ref _deltasSeen);
        foreach (var (reason, count) in counters.Snapshot())
            stats.RejectReasons[reason.ToText()] = (int)count;
        var registry = _service.Registry;
        var name = _options.ModelName;
        stats.Buffered = registry.Deltas.PendingCount(name);
        stats.CurrentVersion = CurrentVersion;
        var decisions = registry.Decisions.List(name);
        stats.CanaryState = _service.Canary is { } watch
            ? $"{watch.CandidateVersion} on canary ({string.Join(", ", watch.CanaryDevices.Order())})"
            : decisions.Count > 0 ? $"{decisions[^1].Version} {decisions[^1].Decision.ToText()}" : "idle";
        var clusters = Clusters;
        stats.SetVersions(clusters.SelectMany(c => registry.ListVersions(c.ModelName)).Select(v => ToRecord(registry, v)).ToArray());
        stats.LiveClusters = clusters.Count(c => c.Live);
    }

    private VersionRecord ToRecord(ModelRegistry registry, ModelVersionRecord v)
    {
        var outcome = v.Status switch
        {
            VersionStatus.Released when v.Parent is null && v.Name == _options.ModelName => VersionOutcome.Base,
            // A cluster's first version: its creator's model, released to all at once (docs/federated.md).
            VersionStatus.Released when v.Parent is null => VersionOutcome.ClusterCreated,
            VersionStatus.Released => VersionOutcome.Promoted,
            VersionStatus.RolledBack => VersionOutcome.RolledBack,
            VersionStatus.Rejected => VersionOutcome.Rejected,
            _ => VersionOutcome.Canary,
        };
        var record = new VersionRecord(v.Name, v.Version, v.Parent, v.DeltaIds.Count, v.DeviceIds.Distinct().Count(), v.SampleCounts.Sum(), v.Created) { Outcome = outcome };
        var decision = registry.Decisions.List(v.Name, v.Version).LastOrDefault(d => d.Decision is DecisionKind.Promoted or DecisionKind.RolledBack);
        if (decision is not null)
        {
            var numbers = JsonSerializer.Deserialize<Dictionary<string, double?>>(decision.NumbersJson);
            if (numbers is not null)
            {
                record.CanaryAccuracy = numbers.GetValueOrDefault("canaryAccuracy");
                record.ControlAccuracy = numbers.GetValueOrDefault("controlAccuracy");
            }
        }
        return record;
    }
}
