using System.Diagnostics.Metrics;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Diagnostics;
using Microsoft.Extensions.Time.Testing;

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

    [Fact]
    public void The_exposition_names_every_aggregator_metric_with_its_type()
    {
        using var metrics = new AggregatorMetrics();
        using var text = new PrometheusText(metrics.Meter);
        metrics.Observe(() => "1.1.0", () => true);
        metrics.DeltaAccepted();
        metrics.DeltaRejected(RejectionReason.TooStale);
        metrics.RoundEnded(RoundOutcome.Held);
        metrics.RegistryOperation("admit", TimeSpan.FromMilliseconds(3));
        metrics.RegistryFailed("round", new IOException("disk full"));
        metrics.InboxBatch(64);
        metrics.PendingCount(12);

        var rendered = text.Render();

        string[] families =
        [
            "cl_aggregator_deltas_accepted_total counter", "cl_aggregator_deltas_rejected_total counter", "cl_aggregator_versions_created_total counter",
            "cl_aggregator_decisions_total counter", "cl_aggregator_rejections_suppressed_total counter", "cl_aggregator_messages_oversized_total counter",
            "cl_aggregator_inbox_failures_total counter", "cl_aggregator_retention_deleted_total counter", "cl_aggregator_round_duration_seconds histogram",
            "cl_aggregator_rounds_total counter", "cl_aggregator_buffer_depth gauge", "cl_aggregator_canary_state gauge", "cl_aggregator_broker_connected gauge",
            "cl_aggregator_registry_duration_seconds histogram", "cl_aggregator_registry_failures_total counter", "cl_aggregator_console_actions_total counter",
            "cl_aggregator_inbox_batch_size histogram", "cl_aggregator_clusters_changes_total counter", "cl_aggregator_clusters_live gauge",
        ];
        Assert.Equal(families, rendered.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l["# TYPE ".Length..]));
        Assert.Contains("\ncl_aggregator_deltas_accepted_total 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_deltas_rejected_total{cl_rejection_reason=\"too-stale\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_rounds_total{cl_round_outcome=\"held\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_buffer_depth 12\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_canary_state{cl_version=\"1.1.0\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_broker_connected 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_registry_duration_seconds_bucket{cl_registry_operation=\"admit\",le=\"0.005\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_registry_duration_seconds_bucket{cl_registry_operation=\"admit\",le=\"0.0025\"} 0\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_registry_failures_total{cl_registry_operation=\"round\",error_type=\"System.IO.IOException\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_inbox_batch_size_bucket{le=\"50\"} 0\ncl_aggregator_inbox_batch_size_bucket{le=\"100\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("disk full", rendered, StringComparison.Ordinal);

        metrics.Observe(() => null, () => false);
        rendered = text.Render();
        Assert.Contains("\ncl_aggregator_canary_state 0\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_broker_connected 0\n", rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void A_round_transaction_times_the_registry_and_a_database_or_disk_error_counts_as_a_registry_failure()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var metrics = new AggregatorMetrics(time);
        using var text = new PrometheusText(metrics.Meter);

        Assert.Equal(3, metrics.RoundTransaction(time, () => 3));
        Assert.Null(metrics.Registry.Snapshot().FailureSince);
        Assert.Throws<InvalidOperationException>(() => metrics.RoundTransaction<int>(time, () => throw new InvalidOperationException("pipeline mismatch")));
        Assert.Null(metrics.Registry.Snapshot().FailureSince);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Throws<IOException>(() => metrics.RoundTransaction<int>(time, () => throw new IOException("disk I/O error")));

        Assert.Equal(("round", "IOException"), (metrics.Registry.Snapshot().FailureSince!.Value.Operation, metrics.Registry.Snapshot().FailureSince!.Value.ErrorType));
        var rendered = text.Render();
        Assert.Contains("\ncl_aggregator_rounds_total{cl_round_outcome=\"failed\"} 2\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_registry_duration_seconds_count{cl_registry_operation=\"round\"} 1\n", rendered, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_registry_failures_total{cl_registry_operation=\"round\",error_type=\"System.IO.IOException\"} 1\n", rendered, StringComparison.Ordinal);
        // A success afterwards clears the failure.
        time.Advance(TimeSpan.FromSeconds(1));
        metrics.RegistryOperation("admit", TimeSpan.FromMilliseconds(1));
        Assert.Null(metrics.Registry.Snapshot().FailureSince);
    }

    [Fact]
    public void Health_needs_the_service_started_the_broker_connected_and_a_recent_registry_success()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var metrics = new AggregatorMetrics(time);
        var connected = true;
        metrics.Observe(() => null, () => connected);
        var health = new AggregatorHealth(metrics, AggregatorHealth.WindowFor(TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromSeconds(30), health.Window);
        Assert.Equal(TimeSpan.FromMinutes(3), AggregatorHealth.WindowFor(TimeSpan.FromMinutes(1)));

        Assert.StartsWith("starting:", health.Check().Reason, StringComparison.Ordinal);
        health.Started();
        Assert.Equal(new HealthReport(true, "ok"), health.Check());

        connected = false;
        Assert.Equal((false, "broker: the inbox is not connected to the MQTT broker (reconnecting)"), (health.Check().Healthy, health.Check().Reason));
        connected = true;

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(new HealthReport(false, "registry: no operation succeeded in the last 31 s (limit 30 s)"), health.Check());
        metrics.RegistryOperation("round", TimeSpan.FromMilliseconds(2));
        Assert.True(health.Check().Healthy);

        time.Advance(TimeSpan.FromSeconds(2));
        metrics.InboxFailed(new IOException("disk full at /secret/path"));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(new HealthReport(false, "registry: the last admit failed (IOException) 5 s ago"), health.Check());
        metrics.RegistryOperation("round", TimeSpan.FromMilliseconds(2));
        Assert.True(health.Check().Healthy);
    }
}
