using ContinualLearning.Aggregator.Holdout;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>
/// The registry side of an aggregation, in three steps: read the round's inputs (the buffered deltas, the release it
/// builds on, their base versions) without a transaction; compute the round, the child bundle and the holdout verdict
/// holding no lock; then, in one transaction under the model lock, check that nothing those inputs depend on changed
/// and store the version, the drops and the consumed deltas. Admissions share the registry's connection (and, on
/// SQLite, its only write lock), so a round that computed inside its transaction stopped the intake for as long as it
/// decoded and aggregated thousands of deltas; now the intake waits only for the commit. Several instances may share
/// the registry: the commit's checks make each version a child of the newest release, none is made while another's
/// candidate or canary is undecided, and no delta is used twice — a round whose inputs changed is dropped whole
/// (<see cref="RoundOutcome.Superseded"/>) and its deltas stay buffered for the next tick.
/// </summary>
internal sealed partial class AggregationCycle(
    ModelRegistry registry, ReleaseLayouts layouts, AggregatorOptions options, HoldoutGate? gate, Journal journal, AggregatorMetrics metrics, TimeProvider time, ILogger logger)
{
    /// <summary>A round read and computed, waiting for its commit.</summary>
    internal sealed record PreparedRound(RoundInputs Inputs, RoundProduct Product, DateTimeOffset Now);

    /// <summary>The inputs a round read, which the commit re-checks.</summary>
    internal sealed record RoundInputs(PendingSummary Summary, LoadedModel Parent, string Version, IReadOnlyList<BufferedDelta> Buffered, long Started)
    {
        /// <summary>The server optimiser's state stored with the parent release (null: none), so a rollback brings back the state of the release built on.</summary>
        public Optimizers.ServerOptimizerState? OptimizerState { get; init; }
    }

    /// <summary>What the round computed outside the transaction: the result and, when it made weights, the child's bundle and verdicts.</summary>
    internal sealed record RoundProduct(RoundResult Round, byte[]? Container, (string Reason, string NumbersJson)? Classes, HoldoutVerdict? Holdout);

    /// <summary>
    /// Aggregates when the trigger fires (<see cref="IsDue"/>) or when <paramref name="force"/> and anything is buffered.
    /// Returns the version made (candidate, or rejected by the gate), or null when nothing was made.
    /// </summary>
    public ModelVersionRecord? Run(bool force) => metrics.RoundTransaction(time, () => Prepare(force) is { } round ? Commit(round) : null);

    /// <summary>Reads the round's inputs and computes it, holding no lock; null when no round is due.</summary>
    internal PreparedRound? Prepare(bool force)
    {
        var now = time.GetUtcNow();
        return Read(force, now) is { } inputs ? new PreparedRound(inputs, Compute(inputs, now), now) : null;
    }

    /// <summary>
    /// Stores what <see cref="Prepare"/> computed, under the model lock (aggregators on other hosts wait, then see this
    /// commit); null when nothing was made or the round was superseded.
    /// </summary>
    internal ModelVersionRecord? Commit(PreparedRound round) =>
        registry.WithModelLock(options.ModelName, () => CommitLocked(round.Inputs, round.Product, round.Now));

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

    /// <summary>The rollout state that lets a round build on <paramref name="released"/>: no canary running, no newer candidate.</summary>
    private bool MayAggregate(out ModelVersionRecord released)
    {
        var name = options.ModelName;
        released = registry.Latest(name, VersionStatus.Released)!;
        // One rollout at a time: while a canary runs, deltas keep arriving and stay buffered.
        return registry.Latest(name, VersionStatus.Canary) is null && !RolloutPending(registry.Latest(name, VersionStatus.Candidate), released);
    }

    private RoundInputs? Read(bool force, DateTimeOffset now)
    {
        var name = options.ModelName;
        if (!MayAggregate(out var released)) return null;
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
        return new RoundInputs(summary, parent, registry.NextVersion(name), buffered, started) { OptimizerState = registry.OptimizerStates.Get(name, released.Version) };
    }

    private RoundProduct Compute(RoundInputs inputs, DateTimeOffset now)
    {
        var parent = inputs.Parent.Bundle;
        var layout = OutputLayout.Of(parent.Manifest);
        var round = AggregationRound.Run(parent.HeadWeights, layout, inputs.Buffered, options.Aggregation, options.Validation, inputs.OptimizerState);
        if (round.Weights is null) return new RoundProduct(round, null, null, null);
        var manifest = NewClassDecision.Manifest(parent.Manifest, round.Layout ?? layout);
        var container = RegistryModels.BuildChild(parent, manifest, inputs.Version, round.Weights, registry.Directory, now.UtcDateTime);
        var classes = NewClassDecision.Describe(round.NewClasses, ClassAdmission.MinDevices(options.Aggregation));
        var holdout = gate?.Judge(parent.Manifest, parent.HeadWeights, manifest, round.Weights);
        return new RoundProduct(round, container, classes, holdout);
    }

    /// <summary>
    /// True when the round's inputs still hold: the release it built on is still the newest, no rollout started, no
    /// version was made since it read (its version name is still the next), and every delta it used or dropped is still
    /// buffered (another instance's round may have dropped some without making a version).
    /// </summary>
    private bool StillCurrent(RoundInputs inputs, RoundResult round)
    {
        var name = options.ModelName;
        if (!MayAggregate(out var released) || released.Version != inputs.Parent.Record.Version || registry.NextVersion(name) != inputs.Version)
            return false;
        var ids = round.Used.Select(u => u.DeltaId).Concat(round.Dropped.Select(d => d.Delta.DeltaId)).ToArray();
        return registry.Deltas.CountPending(name, ids) == ids.Length;
    }

    private ModelVersionRecord? CommitLocked(RoundInputs inputs, RoundProduct product, DateTimeOffset now)
    {
        var name = options.ModelName;
        var round = product.Round;
        if (!StillCurrent(inputs, round))
        {
            metrics.RoundEnded(RoundOutcome.Superseded);
            LogSuperseded(logger, name, inputs.Parent.Record.Version);
            return null;
        }
        foreach (var d in round.Dropped)
            journal.Reject(new RejectionRecord(now, d.Delta.DeviceId, d.Delta.DeltaId, d.Reason, d.Message));
        registry.Deltas.Consume(round.Dropped.Select(d => d.Delta.DeltaId), DeltaState.Dropped, null);
        if (round.Weights is null)
        {
            metrics.RoundDone(null, inputs.Summary.Count - round.Dropped.Count);
            if (round.Held is { } why) LogHeld(logger, name, why);
            return null;
        }

        var version = inputs.Version;
        var sha = registry.Artifacts.Put(product.Container!);
        if (product.Classes is { } classes)
        {
            journal.Decide(name, version, DecisionKind.NewClasses, classes.Reason, classes.NumbersJson);
            LogNewClasses(logger, name, version, classes.Reason);
        }
        var holdout = product.Holdout;
        if (holdout is not null) journal.Decide(name, version, holdout.Decision, holdout.Reason, holdout.NumbersJson);
        var record = new ModelVersionRecord
        {
            Name = name,
            Version = version,
            Parent = inputs.Parent.Record.Version,
            Created = now,
            Status = holdout is { Pass: false } ? VersionStatus.Rejected : VersionStatus.Candidate,
            ArtifactSha256 = sha,
            DeltaIds = round.Used.Select(u => u.DeltaId).ToArray(),
            DeviceIds = round.Used.Select(u => u.DeviceId).ToArray(),
            SampleCounts = round.Used.Select(u => u.SampleCount).ToArray(),
            // The privacy cost composes along the lineage from the parent's record (docs/federated.md, "Differential privacy").
            MetricsJson = Privacy.PrivacyRecord.Add(round.Metrics!.ToJson(holdout, options.Aggregation.Strategy), round.Privacy, inputs.Parent.Record.MetricsJson, options.Aggregation.Privacy.Delta),
        };
        registry.AddVersion(record);
        if (round.OptimizerState is { } state) registry.OptimizerStates.Put(name, version, state);
        registry.Deltas.Consume(record.DeltaIds, DeltaState.Aggregated, version);
        metrics.VersionCreated(record.Status);
        metrics.RoundTook(time.GetElapsedTime(inputs.Started));
        metrics.RoundDone(record, inputs.Summary.Count - round.Dropped.Count - record.DeltaIds.Count);
        LogAggregated(logger, round.Used.Count, round.Metrics.Devices, name, version, options.Aggregation.Strategy, record.Parent, record.Status);
        return registry.GetVersion(name, version);
    }

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Round of {Model} on {Parent} superseded: another aggregator changed its inputs while it ran; the deltas stay buffered")]
    private static partial void LogSuperseded(ILogger logger, string model, string parent);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "New classes in {Model} {Version}: {Classes}")]
    private static partial void LogNewClasses(ILogger logger, string model, string version, string classes);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "No aggregation of {Model}: {Why}")]
    private static partial void LogHeld(ILogger logger, string model, string why);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Aggregated {Count} deltas from {Devices} devices into {Model} {Version} ({Strategy}, parent {Parent}): {Status}")]
    private static partial void LogAggregated(ILogger logger, int count, int devices, string model, string version, StrategyKind strategy, string parent, string status);
}
