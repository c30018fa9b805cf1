using System.Diagnostics.Metrics;
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

    public AggregatorMetrics()
    {
        Meter = new Meter(MeterName, typeof(AggregatorMetrics).Assembly.GetName().Version?.ToString());
        DeltasAccepted = Meter.CreateCounter<long>("cl.aggregator.deltas.accepted", "{delta}", "Deltas that passed validation and were buffered.");
        DeltasRejected = Meter.CreateCounter<long>("cl.aggregator.deltas.rejected", "{delta}", "Deltas refused on arrival or dropped at aggregation, by reason.");
        VersionsCreated = Meter.CreateCounter<long>("cl.aggregator.versions.created", "{version}", "Model versions built by aggregation, by initial status.");
        Decisions = Meter.CreateCounter<long>("cl.aggregator.decisions", "{decision}", "Gate and rollout decisions, by kind.");
        RoundDuration = Meter.CreateHistogram<double>("cl.aggregator.round.duration", "s", "Time to aggregate one round: decode, strategy, bundle, gate, store.");
    }

    public Meter Meter { get; }

    public Counter<long> DeltasAccepted { get; }

    public Counter<long> DeltasRejected { get; }

    public Counter<long> VersionsCreated { get; }

    public Counter<long> Decisions { get; }

    public Histogram<double> RoundDuration { get; }

    public void DeltaAccepted() => DeltasAccepted.Add(1);

    public void DeltaRejected(RejectionReason reason) => DeltasRejected.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason.ToText()));

    public void VersionCreated(string status) => VersionsCreated.Add(1, new KeyValuePair<string, object?>(StatusTag, status));

    public void Decided(DecisionKind decision) => Decisions.Add(1, new KeyValuePair<string, object?>(DecisionTag, decision.ToText()));

    public void RoundTook(TimeSpan elapsed) => RoundDuration.Record(elapsed.TotalSeconds);

    public void Dispose() => Meter.Dispose();
}
