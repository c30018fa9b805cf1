using System.Security.Cryptography;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Messages;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Clustering;

/// <summary>What one clustering step changed, and the directory to publish when it changed.</summary>
internal sealed record ClusteringOutcome(ClusteringDecision? Decision, IReadOnlyList<string> Created, int Dropped, ClusterDirectory? Directory);

/// <summary>
/// One clustering step of a base model, run each tick before the per-cluster rounds, in one transaction under the base
/// model's lock: reads the newest uncounted loss report of each device from the buffered deltas of every live cluster,
/// runs <see cref="ConceptClustering.Decide(int, IReadOnlyList{LossReport}, IReadOnlySet{int})"/> on them from the stored state, creates the new cluster models (their
/// first version released to all), retires merged and evicted clusters, drops the buffered deltas that are relative to
/// a cluster their device left, stores the state, and signs a new cluster directory when the clusters, their releases
/// or the assignments changed. Every aggregator on the registry runs it; the lock and the stored state make them agree.
/// </summary>
internal sealed partial class ClusteringStep(ModelRegistry registry, AggregatorOptions options, Journal journal, Metrics.AggregatorMetrics metrics, ECDsa key, TimeProvider time, ILogger logger)
{
    private readonly string _base = options.ModelName;
    private readonly ClusteringOptions _thresholds = options.Aggregation.Clustering.ProductThresholds;

    /// <summary>Runs the step; null when there was nothing to decide and the directory did not change.</summary>
    public ClusteringOutcome? Run() => MayChange() ? registry.WithModelLock(_base, RunLocked) : null;

    /// <summary>Cluster 0 (the base model) is recorded once, on the first start with clustering on.</summary>
    public void EnsureInitialCluster()
    {
        registry.WithModelLock(_base, () =>
        {
            if (registry.Clusters.List(_base).Any(c => c.Cluster == 0)) return;
            registry.Clusters.Add(new ClusterRecord(_base, 0, _base, null, null, null, 0, time.GetUtcNow()));
        });
    }

    /// <summary>
    /// The idle tick's check, read without a transaction or the lock (the step runs every tick, and its write transaction
    /// would hold the base model's lock, and on SQLite the database's only write lock, for nothing): true when a buffered
    /// delta's report is not counted yet, or when the directory as it stands differs from the stored one. False means the
    /// step would change nothing. The step re-reads everything under the lock, so a change that races this check waits
    /// one tick.
    /// </summary>
    private bool MayChange()
    {
        var stored = registry.Clusters.GetState(_base);
        var counted = stored?.CountedReports ?? new Dictionary<string, string>();
        if (NewestPerDevice(Pending(registry.Clusters.Live(_base))).Any(x => !IsCounted(counted, x.Delta))) return true;
        var clustering = stored is null ? new ConceptClustering(_thresholds) : ConceptClustering.Restore(stored.State, _thresholds);
        return ClusterDirectories.Changed(registry, _base, clustering, stored);
    }

    private ClusteringOutcome? RunLocked()
    {
        var now = time.GetUtcNow();
        var stored = registry.Clusters.GetState(_base);
        var clustering = stored is null ? new ConceptClustering(_thresholds) : ConceptClustering.Restore(stored.State, _thresholds);
        var counted = new Dictionary<string, string>(stored?.CountedReports ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        var round = stored?.Round ?? 0;
        var live = registry.Clusters.Live(_base);
        var pending = Pending(live);
        var reports = ReadReports(pending, counted, live.Select(c => c.Cluster).ToHashSet(), out var newlyCounted);

        ClusteringDecision? decision = null;
        var created = new List<string>();
        var dropped = 0;
        if (reports.Count > 0)
        {
            round++;
            decision = clustering.Decide(round, [.. reports.Select(r => r.Report)], Untrained(live));
            var consumed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var c in decision.Created) created.Add(Create(c, round, reports.Single(r => r.Report.DeviceId == c.Creator).Delta, consumed, now));
            dropped += Retire(decision, pending, consumed, now);
            dropped += DropMoved(decision, pending, consumed, now);
            metrics.ClusterChanged("created", decision.Created.Count);
            metrics.ClusterChanged("merged", decision.Merged.Count);
            metrics.ClusterChanged("retired", decision.Retired.Count);
            metrics.ClusterChanged("moved", decision.Assignments.Count(a => a.Kind == AssignmentKind.Moved));
        }
        var directory = ClusterDirectories.Next(registry, _base, clustering, round, stored, now, key);
        metrics.ClusterCount(registry.Clusters.Live(_base).Count);
        // A delta counted without a usable report is stored as counted too, so the next ticks' check (MayChange) passes it by.
        if (decision is null && directory is null && newlyCounted == 0) return null;
        var sequence = directory?.Sequence ?? stored?.DirectorySequence ?? 0;
        var json = directory is null ? stored?.DirectoryJson : System.Text.Encoding.UTF8.GetString(FleetJson.Serialize(directory));
        registry.Clusters.PutState(new ClusteringRecord(_base, clustering.Export(), round, sequence, json, counted), now);
        if (decision is null && directory is null) return null;
        if (decision is not null)
        {
            var moved = decision.Assignments.Count(a => a.Kind == AssignmentKind.Moved);
            LogDecided(logger, _base, round, reports.Count, decision.Created.Count, decision.Merged.Count, decision.Retired.Count, moved, dropped);
        }
        return new ClusteringOutcome(decision, created, dropped, directory);
    }

    /// <summary>
    /// The newest buffered delta of each device across the live clusters, when its report was not counted yet: one
    /// report per device per step. A delta without a report (or with a malformed one) says nothing about losses; its
    /// device stays where it trained and the delta is aggregated there.
    /// </summary>
    private List<(LossReport Report, PendingDelta Delta)> ReadReports(Dictionary<int, IReadOnlyList<PendingDelta>> pending, Dictionary<string, string> counted, HashSet<int> live, out int newlyCounted)
    {
        var reports = new List<(LossReport, PendingDelta)>();
        newlyCounted = 0;
        foreach (var (cluster, delta) in NewestPerDevice(pending))
        {
            if (IsCounted(counted, delta)) continue;
            counted[delta.DeviceId] = delta.DeltaId;
            newlyCounted++;
            if (registry.Deltas.GetPending(delta.DeltaId) is not { } full) continue;
            var report = ClusterReport.TryRead(DeltaCodec.Decode(full.Payload).Header.Metrics, out var error, out var ignored);
            if (error is not null) LogBadReport(logger, delta.DeltaId, delta.DeviceId, error);
            if (ignored is not null) LogIgnoredErrors(logger, delta.DeltaId, delta.DeviceId, ignored);
            if (report is null) continue;
            // The delta's model says which cluster it trained from; a report claiming another is not believed.
            var losses = report.Losses.Where(l => live.Contains(l.Key)).ToDictionary(l => l.Key, l => l.Value);
            var errors = report.StandardErrors?.Where(e => live.Contains(e.Key)).ToDictionary(e => e.Key, e => e.Value);
            reports.Add((new LossReport(delta.DeviceId, cluster, losses, report.LocalLoss, report.Samples, errors), full));
        }
        return reports;
    }

    /// <summary>
    /// Clusters with fewer versions of their own (made by a round of their members' deltas, whatever became of them)
    /// than the grace period: a round here is a tick with any new report, seconds apart in a large fleet, so the
    /// algorithm's age in rounds would let a cluster whose model is still its creator's merge back at once.
    /// </summary>
    private HashSet<int> Untrained(IReadOnlyList<ClusterRecord> live) =>
        [.. live.Where(c => c.Cluster != 0 && registry.CountVersionsWithParent(c.ModelName) < _thresholds.GraceRounds).Select(c => c.Cluster)];

    /// <summary>The buffered deltas of every live cluster, ids only: a payload is read for a device's newest uncounted delta alone.</summary>
    private Dictionary<int, IReadOnlyList<PendingDelta>> Pending(IReadOnlyList<ClusterRecord> live) =>
        live.ToDictionary(c => c.Cluster, c => registry.Deltas.ListPendingWithoutPayload(c.ModelName, options.Aggregation.MaxPending));

    /// <summary>The newest buffered delta of each device across the clusters (received, then delta id), by device id.</summary>
    private static IEnumerable<(int Cluster, PendingDelta Delta)> NewestPerDevice(Dictionary<int, IReadOnlyList<PendingDelta>> pending) =>
        pending.SelectMany(p => p.Value.Select(d => (Cluster: p.Key, Delta: d)))
            .GroupBy(x => x.Delta.DeviceId, StringComparer.Ordinal)
            .Select(g => g.OrderBy(x => x.Delta.Received).ThenBy(x => x.Delta.DeltaId, StringComparer.Ordinal).Last())
            .OrderBy(x => x.Delta.DeviceId, StringComparer.Ordinal);

    private static bool IsCounted(IReadOnlyDictionary<string, string> counted, PendingDelta delta) =>
        counted.TryGetValue(delta.DeviceId, out var last) && last == delta.DeltaId;

    /// <summary>Stores, releases and records a created cluster model; its creator's delta is consumed as its first version.</summary>
    private string Create(ClusterCreation c, int round, PendingDelta creator, HashSet<string> consumed, DateTimeOffset now)
    {
        var parentModel = ClusterNames.ModelName(_base, c.Parent);
        var model = ClusterNames.ModelName(_base, c.Cluster);
        var first = ClusterBirth.Build(registry, options, parentModel, model, creator, now);
        var record = first.Record with { ArtifactSha256 = registry.Artifacts.Put(first.Container) };
        registry.AddVersion(record);
        registry.Clusters.Add(new ClusterRecord(_base, c.Cluster, model, first.ParentModel, first.ParentVersion, c.Creator, round, now));
        registry.Releases.Allocate(model, record.Version, Rollout.Cohorts.All);
        if (first.WithDelta && registry.Deltas.MovePending(creator.DeltaId, model))
        {
            registry.Deltas.Consume([creator.DeltaId], DeltaState.Aggregated, record.Version);
            consumed.Add(creator.DeltaId);
        }
        var reason = $"cluster {c.Cluster} of {_base} created in clustering round {round} from {first.ParentModel} {first.ParentVersion}"
            + (first.WithDelta ? $" plus the delta of {c.Creator}" : $" (the delta of {c.Creator} was unusable; started from the parent alone)");
        journal.Decide(model, record.Version, DecisionKind.ClusterCreated, reason, "{}");
        LogCreated(logger, model, first.ParentModel, first.ParentVersion, c.Creator);
        return model;
    }

    /// <summary>Merged-away and evicted clusters leave the directory; their buffered deltas are dropped (no round will use them).</summary>
    private int Retire(ClusteringDecision decision, Dictionary<int, IReadOnlyList<PendingDelta>> pending, HashSet<string> consumed, DateTimeOffset now)
    {
        var dropped = 0;
        var gone = decision.Merged.Select(m => (Cluster: m.Absorbed, Into: (int?)m.Survivor)).Concat(decision.Retired.Select(r => (Cluster: r, Into: (int?)null)));
        foreach (var (cluster, into) in gone)
        {
            var model = ClusterNames.ModelName(_base, cluster);
            if (!registry.Clusters.Retire(_base, cluster, now, into)) continue;
            var why = into is { } survivor ? $"merged into cluster {survivor} ({ClusterNames.ModelName(_base, survivor)})" : "evicted: idle longest when a new cluster needed room";
            journal.Decide(model, registry.Latest(model, VersionStatus.Released)?.Version ?? ClusterBirth.FirstVersion, DecisionKind.ClusterRetired, why, "{}");
            LogRetired(logger, model, why);
            if (pending.TryGetValue(cluster, out var deltas))
                dropped += Drop(deltas.Where(d => !consumed.Contains(d.DeltaId)), consumed, RejectionReason.RetiredCluster, $"cluster model {model} was retired ({why})", now);
        }
        return dropped;
    }

    /// <summary>A device that changed cluster: its buffered deltas of other clusters are relative to a model it no longer serves.</summary>
    private int DropMoved(ClusteringDecision decision, Dictionary<int, IReadOnlyList<PendingDelta>> pending, HashSet<string> consumed, DateTimeOffset now)
    {
        var dropped = 0;
        foreach (var a in decision.Assignments.Where(a => a.Kind != AssignmentKind.Stayed))
        {
            var left = pending.Where(p => p.Key != a.To).SelectMany(p => p.Value).Where(d => d.DeviceId == a.DeviceId && !consumed.Contains(d.DeltaId));
            dropped += Drop(left, consumed, RejectionReason.ClusterMoved,
                $"device '{a.DeviceId}' {a.Kind.ToString().ToLowerInvariant()} from cluster {a.From} to cluster {a.To} ({ClusterNames.ModelName(_base, a.To)}); the delta is relative to the model it left", now);
        }
        return dropped;
    }

    private int Drop(IEnumerable<PendingDelta> deltas, HashSet<string> consumed, RejectionReason reason, string why, DateTimeOffset now)
    {
        var list = deltas.Where(d => consumed.Add(d.DeltaId)).ToArray();
        foreach (var d in list) journal.Reject(new RejectionRecord(now, d.DeviceId, d.DeltaId, reason, $"buffered delta {d.DeltaId} from '{d.DeviceId}' dropped at clustering: {why}."));
        registry.Deltas.Consume(list.Select(d => d.DeltaId), DeltaState.Dropped, null);
        return list.Length;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Clustering round {Round} of {Model}: {Reports} reports, {Created} created, {Merged} merged, {Retired} retired, {Moved} moved, {Dropped} buffered deltas dropped")]
    private static partial void LogDecided(ILogger logger, string model, int round, int reports, int created, int merged, int retired, int moved, int dropped);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Created cluster model {Model} from {Parent} {ParentVersion} and the delta of {Creator}; its first version is released to all")]
    private static partial void LogCreated(ILogger logger, string model, string parent, string parentVersion, string creator);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Retired cluster model {Model}: {Why}")]
    private static partial void LogRetired(ILogger logger, string model, string why);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Delta {DeltaId} from {Device} carries no usable cluster report ({Error}); it counts as staying in the cluster it trained from")]
    private static partial void LogBadReport(ILogger logger, string deltaId, string device, string error);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "Delta {DeltaId} from {Device}: {Ignored}")]
    private static partial void LogIgnoredErrors(ILogger logger, string deltaId, string device, string ignored);
}
