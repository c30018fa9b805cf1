using System.Globalization;
using System.Text;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// The daemon's counters, rendered in the Prometheus text exposition format (version 0.0.4) for <c>GET /metrics</c>.
/// Counters are process-lifetime (Prometheus handles resets); gauges are read when scraped.
/// </summary>
public sealed class DeviceMetrics
{
    private long _predictions;
    private long _labels;
    private long _trainingRuns;
    private long _promotions;
    private long _driftAlarms;
    private long _deltasSent;
    private long _deltasDropped;
    private long _releasesApplied;
    private long _releasesRejected;
    private long _rejectedRequests;
    private long _trainingTicks;

    public long Predictions => Interlocked.Read(ref _predictions);

    public long Labels => Interlocked.Read(ref _labels);

    public long TrainingRuns => Interlocked.Read(ref _trainingRuns);

    public long Promotions => Interlocked.Read(ref _promotions);

    public long DriftAlarms => Interlocked.Read(ref _driftAlarms);

    public long DeltasSent => Interlocked.Read(ref _deltasSent);

    public long DeltasDropped => Interlocked.Read(ref _deltasDropped);

    public long ReleasesApplied => Interlocked.Read(ref _releasesApplied);

    public long ReleasesRejected => Interlocked.Read(ref _releasesRejected);

    public void CountPrediction() => Interlocked.Increment(ref _predictions);

    public void CountLabel() => Interlocked.Increment(ref _labels);

    /// <summary>Total wall time of completed training runs (the device's CPU budget for learning).</summary>
    public TimeSpan TrainingTime => TimeSpan.FromTicks(Interlocked.Read(ref _trainingTicks));

    public void CountTrainingRun(TimeSpan duration = default)
    {
        Interlocked.Increment(ref _trainingRuns);
        Interlocked.Add(ref _trainingTicks, duration.Ticks);
    }

    public void CountPromotion() => Interlocked.Increment(ref _promotions);

    public void CountDriftAlarm() => Interlocked.Increment(ref _driftAlarms);

    public void CountDeltaSent() => Interlocked.Increment(ref _deltasSent);

    public void CountDeltasDropped(long n) => Interlocked.Add(ref _deltasDropped, n);

    public void CountReleaseApplied() => Interlocked.Increment(ref _releasesApplied);

    public void CountReleaseRejected() => Interlocked.Increment(ref _releasesRejected);

    public void CountRejectedRequest() => Interlocked.Increment(ref _rejectedRequests);

    /// <summary>Renders every metric; <paramref name="gauges"/> supplies the values read at scrape time.</summary>
    public string Render(MetricGauges gauges)
    {
        ArgumentNullException.ThrowIfNull(gauges);
        var sb = new StringBuilder(2048);
        Counter(sb, "cl_predictions_total", "Predictions served (HTTP, MQTT samples).", Predictions);
        Counter(sb, "cl_samples_labelled_total", "Labels joined to predictions or samples that arrived labelled.", Labels);
        Counter(sb, "cl_training_runs_total", "Champion/challenger training runs completed.", TrainingRuns);
        sb.Append("# HELP cl_training_seconds_total Wall time spent in completed training runs.\n# TYPE cl_training_seconds_total counter\n")
            .Append("cl_training_seconds_total ").Append(Format(TrainingTime.TotalSeconds)).Append('\n');
        Counter(sb, "cl_promotions_total", "Challengers promoted to champion.", Promotions);
        Counter(sb, "cl_drift_alarms_total", "Drift detector alarms.", DriftAlarms);
        Counter(sb, "cl_deltas_sent_total", "Deltas acknowledged by the broker (PUBACK).", DeltasSent);
        Counter(sb, "cl_deltas_dropped_total", "Deltas dropped unsent because the outbox was full.", DeltasDropped);
        Counter(sb, "cl_releases_applied_total", "Signed releases installed.", ReleasesApplied);
        Counter(sb, "cl_releases_rejected_total", "Releases refused (bad signature, wrong key, tampered chunk, unloadable bundle).", ReleasesRejected);
        Counter(sb, "cl_requests_rejected_total", "HTTP/MQTT requests refused as invalid.", Interlocked.Read(ref _rejectedRequests));
        Gauge(sb, "cl_queue_depth", "Deltas waiting in the outbox for the broker.", gauges.QueueDepth);
        Gauge(sb, "cl_queue_bytes", "Bytes waiting in the outbox.", gauges.QueueBytes);
        sb.Append("# HELP cl_model_info The model version being served (value always 1).\n# TYPE cl_model_info gauge\n");
        if (gauges.ModelVersion is { } version)
            sb.Append(CultureInfo.InvariantCulture, $"cl_model_info{{model=\"{Escape(gauges.ModelName ?? "")}\",version=\"{Escape(version)}\",engine=\"{Escape(gauges.Engine ?? "")}\"}} 1\n");
        sb.Append("# HELP cl_window_accuracy Prequential accuracy over the recent labelled predictions (NaN before any).\n# TYPE cl_window_accuracy gauge\n");
        sb.Append("cl_window_accuracy ").Append(Format(gauges.WindowAccuracy ?? double.NaN)).Append('\n');
        Gauge(sb, "cl_paused", "1 while learning is paused.", gauges.Paused ? 1 : 0);
        Gauge(sb, "cl_store_samples", "Samples held in the transient store (waiting for a label or a training run).", gauges.StoredSamples);
        Gauge(sb, "cl_replay_samples", "Samples held in the replay buffer.", gauges.ReplaySamples);
        Gauge(sb, "cl_mqtt_connected", "1 while connected to the broker.", gauges.Connected ? 1 : 0);
        // Memory budget on small devices (docs/benchmarks.md, "Device footprint"): the managed part of the RSS, so an
        // operator can tell a growing GC heap from native growth (SQLite, MQTT buffers, JIT) without a debugger.
        var gc = GC.GetGCMemoryInfo();
        Gauge(sb, "cl_gc_heap_bytes", "Managed heap size after the last GC.", gc.HeapSizeBytes);
        Gauge(sb, "cl_gc_committed_bytes", "Memory committed by the GC.", gc.TotalCommittedBytes);
        Gauge(sb, "cl_gc_collections_total", "Garbage collections (all generations).", GC.CollectionCount(0));
        Counter(sb, "cl_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", GC.GetTotalAllocatedBytes());
        return sb.ToString();
    }

    private static void Counter(StringBuilder sb, string name, string help, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    private static void Gauge(StringBuilder sb, string name, string help, double value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {Format(value)}\n");

    private static string Format(double v) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    // Label values escape backslash, double quote and newline (exposition format rules).
    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>Values read at scrape time.</summary>
public sealed record MetricGauges(
    int QueueDepth,
    long QueueBytes,
    string? ModelName,
    string? ModelVersion,
    string? Engine,
    double? WindowAccuracy,
    bool Paused,
    bool Connected,
    long StoredSamples = 0,
    long ReplaySamples = 0);
