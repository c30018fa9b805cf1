using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>
/// The registry side of an aggregation, in one <c>BEGIN IMMEDIATE</c> transaction: load the buffered deltas and the
/// global model, run the <see cref="AggregationRound"/>, put the candidate through the <see cref="HoldoutGate"/>, and
/// store the version, the drops and the consumed deltas. Several instances may share the registry: the transaction
/// makes each aggregation build on the newest release, and none starts while another's candidate or canary is not
/// yet decided.
/// </summary>
internal sealed partial class AggregationCycle(
    ModelRegistry registry, ReleaseLayouts layouts, AggregatorOptions options, HoldoutGate? gate, Journal journal, AggregatorMetrics metrics, TimeProvider time, ILogger logger)
{
    /// <summary>
    /// Aggregates when the trigger fires (<see cref="IsDue"/>) or when <paramref name="force"/> and anything is buffered.
    /// Returns the version made (candidate, or rejected by the gate), or null when nothing was made.
    /// </summary>
    public ModelVersionRecord? Run(bool force)
    {
        var now = time.GetUtcNow();
        // Under the model lock: aggregators on other hosts wait, then see this round's commit (no two rounds share a delta).
        return metrics.RoundTransaction(time, () => registry.WithModelLock(options.ModelName, () => RunInTransaction(force, now)));
    }

    /// <summary>
    /// At least the minimum of distinct devices, and K deltas buffered or the oldest at least T old with at least the
    /// minimum of deltas buffered.
    /// </summary>
    public static bool IsDue(PendingSummary pending, AggregationOptions aggregation, DateTimeOffset now) =>
        pending.Devices >= aggregation.MinDevices
        && (pending.Count >= aggregation.BufferSize
            || (pending.Count >= aggregation.MinDeltas && pending.Oldest is { } oldest && now - oldest >= aggregation.MaxWait));

    /// <summary>
    /// A candidate newer than the release is a rollout under way: an instance sharing the registry committed it and is
    /// about to release it (or start its canary) outside this transaction. Aggregating now would build a sibling on the
    /// old release instead of a child of that candidate, so the deltas wait for the next tick.
    /// </summary>
    internal static bool RolloutPending(ModelVersionRecord? candidate, ModelVersionRecord released) =>
        candidate is not null && candidate.Seq > released.Seq;

    private ModelVersionRecord? RunInTransaction(bool force, DateTimeOffset now)
    {
        var name = options.ModelName;
        // One rollout at a time: while a canary runs, deltas keep arriving and stay buffered.
        if (registry.Latest(name, VersionStatus.Canary) is not null) return null;
        var released = registry.Latest(name, VersionStatus.Released)!;
        if (RolloutPending(registry.Latest(name, VersionStatus.Candidate), released)) return null;
        // Decided on counts alone: the payloads are read only for a round that runs, and at most MaxPending of them.
        var summary = registry.Deltas.Summary(name);
        metrics.PendingCount(summary.Count);
        if (summary.Count == 0 || !(force || IsDue(summary, options.Aggregation, now))) return null;
        var pending = registry.Deltas.ListPending(name, options.Aggregation.MaxPending);

        var started = time.GetTimestamp();
        var parent = RegistryModels.Load(registry, released);
        // Before anything is written: a release whose pipeline the holdout was not made with leaves the deltas buffered.
        gate?.CheckFits(parent.Bundle.Manifest);
        // Re-checked now: releases and rollbacks since a delta arrived may have made it unusable.
        // Per base version, not per delta: a round of thousands of deltas has a handful of bases (a query each).
        var bases = pending.Select(p => p.BaseVersion).Distinct(StringComparer.Ordinal).ToDictionary(
            b => b, b => (Since: registry.ReleasesSince(name, b), RolledBack: registry.GetVersion(name, b)?.Status == VersionStatus.RolledBack, layouts.Of(b)?.Labels),
            StringComparer.Ordinal);
        var buffered = pending.Select(p =>
        {
            var b = bases[p.BaseVersion];
            return new BufferedDelta(p, b.Since, b.RolledBack, b.Labels);
        }).ToArray();
        var layout = OutputLayout.Of(parent.Bundle.Manifest);
        var round = AggregationRound.Run(parent.Bundle.HeadWeights, layout, buffered, options.Aggregation, options.Validation);
        foreach (var d in round.Dropped)
            journal.Reject(new RejectionRecord(now, d.Delta.DeviceId, d.Delta.DeltaId, d.Reason, d.Message));
        registry.Deltas.Consume(round.Dropped.Select(d => d.Delta.DeltaId), DeltaState.Dropped, null);
        if (round.Weights is null)
        {
            metrics.RoundDone(null, summary.Count - round.Dropped.Count);
            if (round.Held is { } why) LogHeld(logger, name, why);
            return null;
        }

        var version = registry.NextVersion(name);
        var manifest = NewClassDecision.Manifest(parent.Bundle.Manifest, round.Layout ?? layout);
        var sha = registry.Artifacts.Put(RegistryModels.BuildChild(parent.Bundle, manifest, version, round.Weights, registry.Directory, now.UtcDateTime));
        if (NewClassDecision.Describe(round.NewClasses, ClassAdmission.MinDevices(options.Aggregation)) is { } classes)
        {
            journal.Decide(name, version, DecisionKind.NewClasses, classes.Reason, classes.NumbersJson);
            LogNewClasses(logger, name, version, classes.Reason);
        }
        var holdout = gate?.Judge(parent.Bundle.Manifest, parent.Bundle.HeadWeights, manifest, round.Weights);
        if (holdout is not null) journal.Decide(name, version, holdout.Decision, holdout.Reason, holdout.NumbersJson);
        var record = new ModelVersionRecord
        {
            Name = name,
            Version = version,
            Parent = parent.Record.Version,
            Created = now,
            Status = holdout is { Pass: false } ? VersionStatus.Rejected : VersionStatus.Candidate,
            ArtifactSha256 = sha,
            DeltaIds = round.Used.Select(u => u.DeltaId).ToArray(),
            DeviceIds = round.Used.Select(u => u.DeviceId).ToArray(),
            SampleCounts = round.Used.Select(u => u.SampleCount).ToArray(),
            MetricsJson = round.Metrics!.ToJson(holdout, options.Aggregation.Strategy),
        };
        registry.AddVersion(record);
        registry.Deltas.Consume(record.DeltaIds, DeltaState.Aggregated, version);
        metrics.VersionCreated(record.Status);
        metrics.RoundTook(time.GetElapsedTime(started));
        metrics.RoundDone(record, summary.Count - round.Dropped.Count - record.DeltaIds.Count);
        LogAggregated(logger, round.Used.Count, round.Metrics.Devices, name, version, options.Aggregation.Strategy, record.Parent, record.Status);
        return registry.GetVersion(name, version);
    }

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "New classes in {Model} {Version}: {Classes}")]
    private static partial void LogNewClasses(ILogger logger, string model, string version, string classes);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "No aggregation of {Model}: {Why}")]
    private static partial void LogHeld(ILogger logger, string model, string why);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Aggregated {Count} deltas from {Devices} devices into {Model} {Version} ({Strategy}, parent {Parent}): {Status}")]
    private static partial void LogAggregated(ILogger logger, int count, int devices, string model, string version, StrategyKind strategy, string parent, string status);
}
