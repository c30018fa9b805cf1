using System.Diagnostics.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Aggregator.Metrics;

/// <summary>
/// The aggregator's one <see cref="Meter"/> (<c>ContinualLearning.Aggregator</c>, one instance per service): the only
/// place its numbers are counted. Instruments follow the OpenTelemetry naming conventions (dotted lower-case names,
/// units in UCUM, kinds as attributes); exporters and <see cref="DeltaCounters"/> read them through a
/// <see cref="MeterListener"/>.
/// </summary>
internal sealed class AggregatorMetrics : IDisposable
{
    public const string MeterName = "ContinualLearning.Aggregator";

    /// <summary>Attribute on <see cref="DeltasRejected"/>: the rejection reason as stored text (<c>too-stale</c>).</summary>
    public const string ReasonTag = "cl.rejection.reason";

    /// <summary>Attribute on <see cref="Decisions"/>: the decision as stored text (<c>promoted</c>).</summary>
    public const string DecisionTag = "cl.decision";

    /// <summary>Attribute on <see cref="VersionsCreated"/>: the status the version was created with (<c>candidate</c> or <c>rejected</c>).</summary>
    public const string StatusTag = "cl.version.status";

    /// <summary>Attribute on <see cref="MessagesOversized"/>: the topic kind (<c>delta</c>, <c>telemetry</c>, <c>status</c>).</summary>
    public const string TopicKindTag = "cl.topic.kind";

    /// <summary>Attribute on <see cref="InboxFailures"/>: the exception type, as OpenTelemetry's <c>error.type</c>.</summary>
    public const string ErrorTypeTag = "error.type";

    /// <summary>Attribute on <see cref="RetentionDeleted"/>: what was deleted (<c>rejection</c>, <c>artifact</c>, <c>cache</c>).</summary>
    public const string ItemTag = "cl.retention.item";

    /// <summary>Attribute on <see cref="Rounds"/>: how the round ended (<see cref="RoundOutcome"/>).</summary>
    public const string OutcomeTag = "cl.round.outcome";

    /// <summary>Attribute on <see cref="RegistryDuration"/> and <see cref="RegistryFailures"/>: the operation (<c>admit</c>, <c>round</c>, <c>transition</c>…).</summary>
    public const string OperationTag = "cl.registry.operation";

    /// <summary>Attribute on <see cref="ConsoleActions"/>: the action (<c>rollback</c>, <c>publish</c>, <c>command</c>) and its outcome.</summary>
    public const string ActionTag = "cl.console.action";

    /// <summary>Attribute on <see cref="ConsoleActions"/>: <c>done</c>, <c>unauthenticated</c>, <c>forbidden</c>, <c>refused</c>, <c>failed</c>.</summary>
    public const string ActionOutcomeTag = "cl.console.outcome";

    /// <summary>Attribute on <see cref="CanaryState"/>: the version on the canary cohort.</summary>
    public const string VersionTag = "cl.version";

    /// <summary>Attribute on <see cref="ClusterChanges"/>: <c>created</c>, <c>merged</c>, <c>retired</c> (a cluster) or <c>moved</c> (a device).</summary>
    public const string ClusterChangeTag = "cl.cluster.change";

    private long _pending = -1;
    private int _clustersLive = -1;
    private Func<string?> _canary = () => null;
    private Func<bool> _connected = () => false;

    /// <param name="time">Clock of <see cref="Registry"/>'s success and failure times; <see cref="TimeProvider.System"/> when null.</param>
    public AggregatorMetrics(TimeProvider? time = null)
    {
        Registry = new RegistryHealth(time ?? TimeProvider.System);
        Meter = new Meter(MeterName, typeof(AggregatorMetrics).Assembly.GetName().Version?.ToString());
        DeltasAccepted = Meter.CreateCounter<long>("cl.aggregator.deltas.accepted", "{delta}", "Deltas that passed validation and were buffered.");
        DeltasRejected = Meter.CreateCounter<long>("cl.aggregator.deltas.rejected", "{delta}", "Deltas refused on arrival or dropped at aggregation, by reason.");
        VersionsCreated = Meter.CreateCounter<long>("cl.aggregator.versions.created", "{version}", "Model versions built by aggregation, by initial status.");
        Decisions = Meter.CreateCounter<long>("cl.aggregator.decisions", "{decision}", "Gate and rollout decisions, by kind.");
        RejectionsSuppressed = Meter.CreateCounter<long>("cl.aggregator.rejections.suppressed", "{delta}", "Rejections counted but not stored or logged one by one (rate limit per device).");
        MessagesOversized = Meter.CreateCounter<long>("cl.aggregator.messages.oversized", "{message}", "Messages refused before decoding because the payload is over its topic's cap, by topic kind.");
        InboxFailures = Meter.CreateCounter<long>("cl.aggregator.inbox.failures", "{failure}", "Messages that could not be stored: left unacknowledged, consumption paused, by error type.");
        RetentionDeleted = Meter.CreateCounter<long>("cl.aggregator.retention.deleted", "{item}", "Rejection rows, artifacts and caches deleted by the retention sweep, by item.");
        RoundDuration = Meter.CreateHistogram("cl.aggregator.round.duration", "s", "Time to aggregate one round: decode, strategy, bundle, gate, store.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });
        Rounds = Meter.CreateCounter<long>("cl.aggregator.rounds", "{round}", "Aggregation rounds run, by outcome: candidate, rejected (by the holdout gate), held (no version made), failed.");
        Meter.CreateObservableGauge("cl.aggregator.buffer.depth", BufferDepth, "{delta}", "Deltas buffered for the next round, as last counted (at each tick and after each round).");
        Meter.CreateObservableGauge("cl.aggregator.canary.state", CanaryState, description: "1 with the version's label while a canary runs, 0 when none.");
        Meter.CreateObservableGauge("cl.aggregator.broker.connected", () => _connected() ? 1 : 0, description: "1 while the inbox is connected to the MQTT broker.");
        RegistryDuration = Meter.CreateHistogram("cl.aggregator.registry.duration", "s", "Time of registry operations that succeeded, by operation (admit, round, transition…).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        RegistryFailures = Meter.CreateCounter<long>("cl.aggregator.registry.failures", "{failure}", "Registry operations that failed, by operation and error type.");
        ConsoleActions = Meter.CreateCounter<long>("cl.aggregator.console.actions", "{action}", "Operator actions asked of the console, by action and outcome (refusals without or with a wrong credential included).");
        InboxBatchSize = Meter.CreateHistogram("cl.aggregator.inbox.batch.size", "{delta}", "Deltas stored and acknowledged together by one registry commit.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] });
        ClusterChanges = Meter.CreateCounter<long>("cl.aggregator.clusters.changes", "{change}", "Concept-aware aggregation: clusters created, merged and retired, and devices moved to another cluster, by change.");
        Meter.CreateObservableGauge("cl.aggregator.clusters.live", ClustersLive, "{cluster}", "Live clusters (models) of the served model under concept-aware aggregation; none reported while it is off.");
    }

    public Meter Meter { get; }

    public Counter<long> DeltasAccepted { get; }

    public Counter<long> DeltasRejected { get; }

    public Counter<long> VersionsCreated { get; }

    public Counter<long> Decisions { get; }

    public Counter<long> RejectionsSuppressed { get; }

    public Counter<long> MessagesOversized { get; }

    public Counter<long> InboxFailures { get; }

    public Counter<long> RetentionDeleted { get; }

    public Histogram<double> RoundDuration { get; }

    public Counter<long> Rounds { get; }

    public Histogram<double> RegistryDuration { get; }

    public Counter<long> RegistryFailures { get; }

    public Histogram<int> InboxBatchSize { get; }

    public Counter<long> ConsoleActions { get; }

    public Counter<long> ClusterChanges { get; }

    /// <summary>When registry operations last succeeded and failed (what <c>/health</c> judges).</summary>
    public RegistryHealth Registry { get; }

    /// <summary>Whether the inbox is connected now (false until <see cref="Observe"/> is called).</summary>
    public bool BrokerConnected => _connected();

    public void DeltaAccepted() => DeltasAccepted.Add(1);

    public void DeltaRejected(RejectionReason reason) => DeltasRejected.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason.ToText()));

    public void VersionCreated(string status) => VersionsCreated.Add(1, new KeyValuePair<string, object?>(StatusTag, status));

    public void Decided(DecisionKind decision) => Decisions.Add(1, new KeyValuePair<string, object?>(DecisionTag, decision.ToText()));

    public void RejectionSuppressed() => RejectionsSuppressed.Add(1);

    public void Oversized(string topicKind) => MessagesOversized.Add(1, new KeyValuePair<string, object?>(TopicKindTag, topicKind));

    /// <summary>A message the inbox could not store: its handler threw, so the registry refused the write.</summary>
    public void InboxFailed(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        InboxFailures.Add(1, new KeyValuePair<string, object?>(ErrorTypeTag, error.GetType().FullName));
        Registry.Failed("admit", error);
    }

    public void Retained(RetentionResult deleted)
    {
        if (deleted.Rejections > 0) RetentionDeleted.Add(deleted.Rejections, new KeyValuePair<string, object?>(ItemTag, "rejection"));
        if (deleted.Artifacts > 0) RetentionDeleted.Add(deleted.Artifacts, new KeyValuePair<string, object?>(ItemTag, "artifact"));
        if (deleted.Caches > 0) RetentionDeleted.Add(deleted.Caches, new KeyValuePair<string, object?>(ItemTag, "cache"));
    }

    public void RoundTook(TimeSpan elapsed) => RoundDuration.Record(elapsed.TotalSeconds);

    public void RoundEnded(RoundOutcome outcome) => Rounds.Add(1, new KeyValuePair<string, object?>(OutcomeTag, outcome.ToText()));

    /// <summary>A registry operation that succeeded, and how long it took.</summary>
    public void RegistryOperation(string operation, TimeSpan elapsed)
    {
        RegistryDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>(OperationTag, operation));
        Registry.Succeeded();
    }

    /// <summary>A registry operation that failed (the database or the disk refused it).</summary>
    public void RegistryFailed(string operation, Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        RegistryFailures.Add(1, new KeyValuePair<string, object?>(OperationTag, operation), new KeyValuePair<string, object?>(ErrorTypeTag, error.GetType().FullName));
        Registry.Failed(operation, error);
    }

    /// <summary>
    /// Runs one aggregation transaction (<see cref="Aggregation.AggregationCycle"/>): its time and success are the
    /// registry's <c>round</c> operation; when it throws, the round counts as failed and, when the database or the
    /// disk threw, as a registry failure.
    /// </summary>
    public T RoundTransaction<T>(TimeProvider time, Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(body);
        var started = time.GetTimestamp();
        try
        {
            var result = body();
            RegistryOperation("round", time.GetElapsedTime(started));
            return result;
        }
        catch (Exception ex)
        {
            RoundEnded(RoundOutcome.Failed);
            if (ex is System.Data.Common.DbException or IOException) RegistryFailed("round", ex);
            throw;
        }
    }

    /// <summary>A round ran to its end: the version it made (null: held, none made) and how many deltas stay buffered.</summary>
    public void RoundDone(ModelVersionRecord? made, long pendingLeft)
    {
        RoundEnded(made is null ? RoundOutcome.Held : made.Status == VersionStatus.Rejected ? RoundOutcome.Rejected : RoundOutcome.Candidate);
        PendingCount(pendingLeft);
    }

    /// <summary>Counts <paramref name="count"/> cluster changes of one kind (created, merged, retired, moved).</summary>
    public void ClusterChanged(string change, int count)
    {
        if (count > 0) ClusterChanges.Add(count, new KeyValuePair<string, object?>(ClusterChangeTag, change));
    }

    /// <summary>The number of live clusters, as last counted by the clustering step.</summary>
    public void ClusterCount(int live) => Interlocked.Exchange(ref _clustersLive, live);

    /// <summary>How many deltas one commit of the inbox stored (group commit).</summary>
    public void InboxBatch(int size) => InboxBatchSize.Record(size);

    /// <summary>The number of buffered deltas, as just counted.</summary>
    public void PendingCount(long count) => Interlocked.Exchange(ref _pending, count);

    /// <summary>Where the canary and connection gauges read from: the running canary's version (null: none) and the inbox's connection.</summary>
    public void Observe(Func<string?> canaryVersion, Func<bool> brokerConnected)
    {
        _canary = canaryVersion;
        _connected = brokerConnected;
    }

    public void Dispose() => Meter.Dispose();

    private IEnumerable<Measurement<int>> ClustersLive()
    {
        var live = Volatile.Read(ref _clustersLive);
        if (live >= 0) yield return new Measurement<int>(live);
    }

    private IEnumerable<Measurement<long>> BufferDepth()
    {
        var pending = Interlocked.Read(ref _pending);
        return pending < 0 ? [] : [new Measurement<long>(pending)];
    }

    private Measurement<int> CanaryState() =>
        _canary() is { } version ? new Measurement<int>(1, new KeyValuePair<string, object?>(VersionTag, version)) : new Measurement<int>(0);
}
