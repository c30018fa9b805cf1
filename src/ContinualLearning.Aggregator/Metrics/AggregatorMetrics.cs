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

    public AggregatorMetrics()
    {
        Meter = new Meter(MeterName, typeof(AggregatorMetrics).Assembly.GetName().Version?.ToString());
        DeltasAccepted = Meter.CreateCounter<long>("cl.aggregator.deltas.accepted", "{delta}", "Deltas that passed validation and were buffered.");
        DeltasRejected = Meter.CreateCounter<long>("cl.aggregator.deltas.rejected", "{delta}", "Deltas refused on arrival or dropped at aggregation, by reason.");
        VersionsCreated = Meter.CreateCounter<long>("cl.aggregator.versions.created", "{version}", "Model versions built by aggregation, by initial status.");
        Decisions = Meter.CreateCounter<long>("cl.aggregator.decisions", "{decision}", "Gate and rollout decisions, by kind.");
        RejectionsSuppressed = Meter.CreateCounter<long>("cl.aggregator.rejections.suppressed", "{delta}", "Rejections counted but not stored or logged one by one (rate limit per device).");
        MessagesOversized = Meter.CreateCounter<long>("cl.aggregator.messages.oversized", "{message}", "Messages refused before decoding because the payload is over its topic's cap, by topic kind.");
        InboxFailures = Meter.CreateCounter<long>("cl.aggregator.inbox.failures", "{failure}", "Messages that could not be stored: left unacknowledged, consumption paused, by error type.");
        RetentionDeleted = Meter.CreateCounter<long>("cl.aggregator.retention.deleted", "{item}", "Rejection rows, artifacts and caches deleted by the retention sweep, by item.");
        RoundDuration = Meter.CreateHistogram<double>("cl.aggregator.round.duration", "s", "Time to aggregate one round: decode, strategy, bundle, gate, store.");
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

    public void DeltaAccepted() => DeltasAccepted.Add(1);

    public void DeltaRejected(RejectionReason reason) => DeltasRejected.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason.ToText()));

    public void VersionCreated(string status) => VersionsCreated.Add(1, new KeyValuePair<string, object?>(StatusTag, status));

    public void Decided(DecisionKind decision) => Decisions.Add(1, new KeyValuePair<string, object?>(DecisionTag, decision.ToText()));

    public void RejectionSuppressed() => RejectionsSuppressed.Add(1);

    public void Oversized(string topicKind) => MessagesOversized.Add(1, new KeyValuePair<string, object?>(TopicKindTag, topicKind));

    public void InboxFailed(Exception error) => InboxFailures.Add(1, new KeyValuePair<string, object?>(ErrorTypeTag, error.GetType().FullName));

    public void Retained(RetentionResult deleted)
    {
        if (deleted.Rejections > 0) RetentionDeleted.Add(deleted.Rejections, new KeyValuePair<string, object?>(ItemTag, "rejection"));
        if (deleted.Artifacts > 0) RetentionDeleted.Add(deleted.Artifacts, new KeyValuePair<string, object?>(ItemTag, "artifact"));
        if (deleted.Caches > 0) RetentionDeleted.Add(deleted.Caches, new KeyValuePair<string, object?>(ItemTag, "cache"));
    }

    public void RoundTook(TimeSpan elapsed) => RoundDuration.Record(elapsed.TotalSeconds);

    public void Dispose() => Meter.Dispose();
}
