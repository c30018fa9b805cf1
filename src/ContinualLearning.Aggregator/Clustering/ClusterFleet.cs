using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Fleet.Messages;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Clustering;

/// <summary>One live cluster's machinery: the same round and rollout classes as without clustering, for its own model name.</summary>
internal sealed record ClusterUnit(int Cluster, string ModelName, RegistryValidationContext Validation, AggregationCycle Cycle, RolloutCoordinator Rollout);

/// <summary>Where concept-aware aggregation sends what it makes: the versions rounds made, and the signed directory.</summary>
/// <param name="VersionCreated">Raised with every version a cluster's round made.</param>
/// <param name="PublishDirectory">Puts a signed directory on its retained topic.</param>
internal sealed record ClusterFleetHooks(Action<ModelVersionRecord> VersionCreated, Func<ClusterDirectory, CancellationToken, Task> PublishDirectory);

/// <summary>
/// The per-cluster bookkeeping of concept-aware aggregation (docs/federated.md, "Concept-aware aggregation", "In the
/// product"): one <see cref="ClusterUnit"/> per live cluster model, the <see cref="ClusteringStep"/> before the rounds
/// of each tick, the routing of deltas (<see cref="ClusterValidation"/>) and of telemetry (a device's report counts for
/// its cluster's canary), and each cluster's canary cohort drawn from its own devices. Callers serialise the ticks
/// (<see cref="StartAsync"/>, <see cref="AggregateAsync"/>, <see cref="CheckAsync"/>); routing may come from any thread.
/// </summary>
internal sealed partial class ClusterFleet(
    ModelRegistry registry, AggregatorOptions options, HoldoutGate? gate, Journal journal, AggregatorMetrics metrics, IReleaseChannel channel,
    ClusteringStep step, ClusterFleetHooks hooks, TimeProvider time, ILogger logger, Action<string, DecisionKind> decided)
{
    private readonly Dictionary<int, ClusterUnit> _units = [];
    private volatile View _view = new(new Dictionary<string, int>(StringComparer.Ordinal), null!);
    private ClusterDirectory? _unsent;

    /// <summary>The base model's unit (cluster 0): the service's operator actions and its canary gauge use it.</summary>
    public ClusterUnit Base => _units[0];

    /// <summary>The live units, by cluster id.</summary>
    public IReadOnlyCollection<ClusterUnit> Units => _units.Values;

    /// <summary>The validator's answers for one batch of deltas: every live cluster model is served.</summary>
    public IDeltaValidationContext Validation() => _view.Validation.Snapshot();

    /// <summary>The cluster a device is assigned to; a device the clustering never placed is in cluster 0.</summary>
    public int ClusterOf(string deviceId) => _view.Assignments.TryGetValue(deviceId, out var c) ? c : 0;

    /// <summary>
    /// Counts a telemetry accuracy report for the canary of the cluster whose model the device serves
    /// (<paramref name="servedCluster"/>, from its telemetry), or of its assigned cluster when the telemetry does not
    /// say. They differ while a moved device still installs its new cluster's release: its accuracy and version are
    /// still those of the model it left, so they count there.
    /// </summary>
    public void Report(AccuracyReport report, int? servedCluster = null)
    {
        var cluster = servedCluster ?? ClusterOf(report.DeviceId);
        lock (_units)
            if (_units.TryGetValue(cluster, out var unit)) unit.Rollout.Report(report);
    }

    /// <summary>
    /// The cluster a device's telemetry says it serves (<c>extra.cluster</c>, sent under <c>learning:clustering</c>);
    /// null when absent or not a cluster id (an older or misconfigured device: its assignment decides).
    /// </summary>
    public static int? ServedCluster(Telemetry telemetry)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        return telemetry.Extra is { } extra && extra.TryGetValue("cluster", out var c) ? ContinualLearning.Deltas.ClusterNames.FromNumber(c) : null;
    }

    /// <summary>Records cluster 0 on the first start and builds the units of the live clusters, so deltas for them are accepted from the first message.</summary>
    public void Open()
    {
        step.EnsureInitialCluster();
        Refresh();
    }

    /// <summary>Resumes the clusters' rollouts and puts the stored directory out again (after <see cref="Open"/>, once connected).</summary>
    public async Task StartAsync(Func<IEnumerable<string>> online, CancellationToken cancellationToken)
    {
        foreach (var unit in Units.ToArray()) await unit.Rollout.ResumeAsync(OnlineIn(unit.Cluster, online), cancellationToken).ConfigureAwait(false);
        // A directory committed just before a crash may never have reached the broker; a device ignores one it applied.
        if (registry.Clusters.GetState(options.ModelName)?.DirectoryJson is { } json)
            _unsent = FleetJson.ReadClusterDirectory(System.Text.Encoding.UTF8.GetBytes(json));
        await PublishDirectoryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One tick's aggregation: the clustering step, then each live cluster's round (when due, or always when
    /// <paramref name="force"/>) and the start of its rollout. Returns the versions made, cluster 0 first.
    /// </summary>
    public async Task<IReadOnlyList<ModelVersionRecord>> AggregateAsync(bool force, Func<IEnumerable<string>> online, CancellationToken cancellationToken)
    {
        var outcome = step.Run();
        var before = _units.Keys.ToHashSet();
        Refresh();
        // A created cluster's first release goes out before the directory that sends devices to it.
        foreach (var unit in Units.Where(u => !before.Contains(u.Cluster)).ToArray())
            await unit.Rollout.ResumeAsync(OnlineIn(unit.Cluster, online), cancellationToken).ConfigureAwait(false);
        if (outcome?.Directory is { } directory) _unsent = directory;
        await PublishDirectoryAsync(cancellationToken).ConfigureAwait(false);

        var made = new List<ModelVersionRecord>();
        foreach (var unit in Units.OrderBy(u => u.Cluster).ToArray())
        {
            var created = unit.Cycle.Run(force);
            if (created is null) continue;
            hooks.VersionCreated(created);
            if (created.Status == VersionStatus.Candidate)
                await unit.Rollout.StartAsync(created, OnlineIn(unit.Cluster, online), cancellationToken).ConfigureAwait(false);
            made.Add(registry.GetVersion(created.Name, created.Version)!);
        }
        return made;
    }

    /// <summary>Evaluates every cluster's canary; returns cluster 0's decision (null when it runs none).</summary>
    public async Task<RolloutDecision?> CheckAsync(Func<IEnumerable<string>> online, CancellationToken cancellationToken)
    {
        RolloutDecision? baseDecision = null;
        foreach (var unit in Units.OrderBy(u => u.Cluster).ToArray())
        {
            var decision = await unit.Rollout.CheckAsync(OnlineIn(unit.Cluster, online), cancellationToken).ConfigureAwait(false);
            if (unit.Cluster == 0) baseDecision = decision;
        }
        return baseDecision;
    }

    /// <summary>The online devices assigned to <paramref name="cluster"/>: a cluster's canary cohort is drawn from its own devices only.</summary>
    private string[] OnlineIn(int cluster, Func<IEnumerable<string>> online) => online().Where(d => ClusterOf(d) == cluster).ToArray();

    private async Task PublishDirectoryAsync(CancellationToken cancellationToken)
    {
        if (_unsent is not { } directory) return;
        try
        {
            await hooks.PublishDirectory(directory, cancellationToken).ConfigureAwait(false);
            _unsent = null;
            LogDirectory(logger, directory.ModelName, directory.Sequence, directory.Clusters.Count, directory.Assignments.Count);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Committed: only its delivery waits for the next tick.
            LogDirectoryFailed(logger, directory.ModelName, directory.Sequence, ex);
        }
    }

    /// <summary>Brings the units, the routing and the assignments in line with the registry (any instance may have changed the clusters).</summary>
    private void Refresh()
    {
        var clusters = registry.Clusters.List(options.ModelName);
        var live = clusters.Where(c => c.Live).ToArray();
        lock (_units)
        {
            foreach (var gone in _units.Keys.Where(k => live.All(c => c.Cluster != k)).ToArray()) _units.Remove(gone);
            foreach (var c in live.Where(c => !_units.ContainsKey(c.Cluster))) _units[c.Cluster] = NewUnit(c);
        }
        var state = registry.Clusters.GetState(options.ModelName);
        var assignments = state?.State.Routed(_units.ContainsKey) ?? new Dictionary<string, int>();
        var validation = new ClusterValidation(options.ModelName, _units.Values.ToDictionary(u => u.ModelName, u => u.Validation, StringComparer.Ordinal),
            [.. clusters.Where(c => !c.Live)]);
        _view = new View(assignments, validation);
        metrics.ClusterCount(live.Length);
    }

    private ClusterUnit NewUnit(ClusterRecord cluster)
    {
        var unitOptions = options with { ModelName = cluster.ModelName };
        var layouts = new ReleaseLayouts(registry, cluster.ModelName);
        return new ClusterUnit(cluster.Cluster, cluster.ModelName, new RegistryValidationContext(registry, cluster.ModelName, layouts),
            new AggregationCycle(registry, layouts, unitOptions, gate, journal, metrics, time, logger),
            new RolloutCoordinator(registry, unitOptions, channel, journal, time, logger, decided));
    }

    private sealed record View(IReadOnlyDictionary<string, int> Assignments, ClusterValidation Validation);

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Published the cluster directory of {Model} (sequence {Sequence}): {Clusters} clusters, {Assigned} devices outside cluster 0")]
    private static partial void LogDirectory(ILogger logger, string model, long sequence, int clusters, int assigned);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Publishing the cluster directory of {Model} (sequence {Sequence}) failed; the next tick retries")]
    private static partial void LogDirectoryFailed(ILogger logger, string model, long sequence, Exception exception);
}
