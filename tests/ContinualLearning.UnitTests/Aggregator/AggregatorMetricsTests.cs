using System.Diagnostics.Metrics;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>The aggregator's meter is the only counter; <see cref="DeltaCounters"/> and exporters read it.</summary>
public sealed class AggregatorMetricsTests
{
    [Fact]
    public void Instruments_carry_OpenTelemetry_names_and_the_kind_as_an_attribute()
    {
        using var metrics = new AggregatorMetrics();
        var seen = new List<(string Name, string? Unit, long Value, string Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter)) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => seen.Add((i.Name, i.Unit, v, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}")))));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => seen.Add((i.Name, i.Unit, v > 0 ? 1 : 0, "")));
        listener.Start();

        metrics.DeltaAccepted();
        metrics.DeltaRejected(RejectionReason.TooStale);
        metrics.VersionCreated(VersionStatus.Candidate);
        metrics.Decided(DecisionKind.CanaryStarted);
        metrics.RoundTook(TimeSpan.FromMilliseconds(5));

        Assert.Equal(AggregatorMetrics.MeterName, metrics.Meter.Name);
        Assert.Equal(
        [
            ("cl.aggregator.deltas.accepted", "{delta}", 1L, ""),
            ("cl.aggregator.deltas.rejected", "{delta}", 1L, "cl.rejection.reason=too-stale"),
            ("cl.aggregator.versions.created", "{version}", 1L, "cl.version.status=candidate"),
            ("cl.aggregator.decisions", "{decision}", 1L, "cl.decision=canary-started"),
            ("cl.aggregator.round.duration", "s", 1L, ""),
        ], seen);
    }

    [Fact]
    public void Delta_counters_read_their_own_service_meter_only()
    {
        using var mine = new AggregatorMetrics();
        using var other = new AggregatorMetrics();
        using var counters = new DeltaCounters(mine);
        mine.DeltaAccepted();
        mine.DeltaAccepted();
        mine.DeltaRejected(RejectionReason.Duplicate);
        mine.DeltaRejected(RejectionReason.NonFinite);
        mine.DeltaRejected(RejectionReason.Duplicate);
        other.DeltaAccepted();
        other.DeltaRejected(RejectionReason.Malformed);

        Assert.Equal(2, counters.Accepted);
        Assert.Equal(2, counters.Rejected(RejectionReason.Duplicate));
        Assert.Equal(3, counters.TotalRejected);
        Assert.Equal(new Dictionary<RejectionReason, long> { [RejectionReason.NonFinite] = 1, [RejectionReason.Duplicate] = 2 }, counters.Snapshot());
    }
}
