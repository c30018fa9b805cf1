using System.Diagnostics.Metrics;
using ContinualLearning.Device.Agent;
using ContinualLearning.Diagnostics;
using ContinualLearning.Learning;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// The daemon's numbers. One <see cref="Meter"/> named <see cref="MeterName"/> per runtime is the single source of
/// every one of them: what the learner counts (predictions, labels, training runs and their time, promotions, drift
/// alarms) is observed from <see cref="ContinualLearner.Counters"/>; what the agent and the HTTP API count (deltas
/// sent and dropped, releases applied and rejected, requests refused) is counted once, by the part that does it, on a
/// <see cref="Counter{T}"/> of the meter; gauges are read when observed. <c>GET /metrics</c> renders the meter
/// (<see cref="RenderPrometheus"/>), and status reports and telemetry read the properties, which read the same
/// counters back through a listener (<see cref="CounterTotals"/>): no number is held in two places.
/// </summary>
/// <remarks>
/// Counters are process-lifetime (Prometheus handles resets). Each counter is given a 0 when the meter is made, so
/// /metrics shows every series from the start, as dashboards expect.
/// </remarks>
public sealed class DeviceMetrics : IDisposable
{
    /// <summary>The meter's name (what a <see cref="MeterListener"/> or <c>dotnet-counters</c> selects).</summary>
    public const string MeterName = "ContinualLearning.Device";

    [ThreadStatic]
    private static StatusScope? t_scope;

    private readonly Func<ContinualLearner?> _learner;
    private readonly Meter _meter = new(MeterName);
    private readonly PrometheusText _exposition;
    private readonly CounterTotals _totals;
    private readonly Counter<long> _deltasSent;
    private readonly Counter<long> _deltasDropped;
    private readonly Counter<long> _releasesApplied;
    private readonly Counter<long> _releasesRejected;
    private readonly Counter<long> _requestsRejected;
    private readonly Counter<long> _commandsRefused;
    private readonly Counter<long> _payloadsOversize;
    private readonly Counter<long> _samplesRateLimited;
    private DeviceAgent? _agent;

    internal DeviceMetrics(Func<ContinualLearner?> learner)
    {
        _learner = learner;
        Counter("cl_predictions_total", "Predictions served (HTTP, MQTT samples).", () => LearnerCounts.Predictions);
        Counter("cl_samples_labelled_total", "Labels joined to predictions or samples that arrived labelled.", () => LearnerCounts.Labels);
        Counter("cl_training_runs_total", "Champion/challenger training runs completed.", () => LearnerCounts.TrainingRuns);
        _meter.CreateObservableCounter("cl_training_seconds_total", () => LearnerCounts.TrainingTime.TotalSeconds, "s", "Wall time spent in completed training runs.");
        Counter("cl_promotions_total", "Challengers promoted to champion.", () => LearnerCounts.Promotions);
        Counter("cl_drift_alarms_total", "Drift detector alarms.", () => LearnerCounts.DriftAlarms);
        _deltasSent = Count("cl_deltas_sent_total", "Deltas acknowledged by the broker (PUBACK).");
        _deltasDropped = Count("cl_deltas_dropped_total", "Deltas dropped unsent because the outbox was full.");
        _releasesApplied = Count("cl_releases_applied_total", "Signed releases installed.");
        _releasesRejected = Count("cl_releases_rejected_total", "Releases refused (bad signature, wrong key, tampered chunk, unloadable bundle).");
        _requestsRejected = Count("cl_requests_rejected_total", "HTTP/MQTT requests refused as invalid.");
        _commandsRefused = Count("cl_commands_refused_total", "Fleet commands refused unrun (unsigned, untrusted key, bad signature, other target, expired, too long-lived).");
        _payloadsOversize = Count("cl_payloads_oversize_total", "MQTT messages and HTTP bodies refused unparsed for exceeding their topic's size cap (limits:*).");
        _samplesRateLimited = Count("cl_samples_rate_limited_total", "Samples refused unparsed by the samples topic's rate limit (limits:samplesPerSecond, limits:sampleBurst).");
        Gauge("cl_queue_depth", "Deltas waiting in the outbox for the broker.", () => Volatile.Read(ref _agent)?.Outbox.Count ?? 0);
        Gauge("cl_queue_bytes", "Bytes waiting in the outbox.", () => Volatile.Read(ref _agent)?.Outbox.Bytes ?? 0);
        _meter.CreateObservableGauge("cl_model_info", ModelInfo, description: "The model version being served (value always 1).");
        _meter.CreateObservableGauge("cl_window_accuracy", () => Status()?.WindowedAccuracy ?? double.NaN, description: "Prequential accuracy over the recent labelled predictions (NaN before any).");
        Gauge("cl_paused", "1 while learning is paused.", () => Status()?.Paused == true ? 1 : 0);
        Gauge("cl_store_samples", "Samples held in the transient store (waiting for a label or a training run).", () => Status()?.StoredSamples ?? 0);
        Gauge("cl_replay_samples", "Samples held in the replay buffer.", () => Status()?.ReplaySize ?? 0);
        Gauge("cl_mqtt_connected", "1 while connected to the broker.", () => Volatile.Read(ref _agent)?.IsConnected == true ? 1 : 0);
        // Memory budget on small devices (docs/benchmarks.md, "Device footprint"): the managed part of the RSS, so an
        // operator can tell a growing GC heap from native growth (SQLite, MQTT buffers, JIT) without a debugger.
        Gauge("cl_gc_heap_bytes", "Managed heap size after the last GC.", () => GC.GetGCMemoryInfo().HeapSizeBytes);
        Gauge("cl_gc_committed_bytes", "Memory committed by the GC.", () => GC.GetGCMemoryInfo().TotalCommittedBytes);
        Counter("cl_gc_collections_total", "Garbage collections (all generations).", () => GC.CollectionCount(0));
        Counter("cl_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start.", () => GC.GetTotalAllocatedBytes());
        Counter<long>[] counted = [_deltasSent, _deltasDropped, _releasesApplied, _releasesRejected, _requestsRejected, _commandsRefused, _payloadsOversize, _samplesRateLimited];
        _totals = new CounterTotals(counted);
        _exposition = new PrometheusText(_meter);
        foreach (var counter in counted) counter.Add(0);
    }

    /// <summary>The runtime's meter (listeners select it by <see cref="MeterName"/>; tests by reference).</summary>
    internal Meter Meter => _meter;

    /// <summary>The learner's counts (zero before the first model).</summary>
    public LearnerCounters LearnerCounts => _learner()?.Counters ?? default;

    public long Predictions => LearnerCounts.Predictions;

    public long Labels => LearnerCounts.Labels;

    public long TrainingRuns => LearnerCounts.TrainingRuns;

    /// <summary>Total wall time of completed training runs (the device's CPU budget for learning).</summary>
    public TimeSpan TrainingTime => LearnerCounts.TrainingTime;

    public long Promotions => LearnerCounts.Promotions;

    public long DriftAlarms => LearnerCounts.DriftAlarms;

    public long DeltasSent => _totals[_deltasSent];

    public long DeltasDropped => _totals[_deltasDropped];

    public long ReleasesApplied => _totals[_releasesApplied];

    public long ReleasesRejected => _totals[_releasesRejected];

    public long RequestsRejected => _totals[_requestsRejected];

    /// <summary>Messages and bodies refused for their size, before parsing.</summary>
    public long PayloadsOversize => _totals[_payloadsOversize];

    /// <summary>Samples refused by the rate limit, before parsing.</summary>
    public long SamplesRateLimited => _totals[_samplesRateLimited];

    internal void CountDeltaSent() => _deltasSent.Add(1);

    internal void CountDeltasDropped(long n) => _deltasDropped.Add(n);

    internal void CountReleaseApplied() => _releasesApplied.Add(1);

    internal void CountReleaseRejected() => _releasesRejected.Add(1);

    internal void CountRejectedRequest() => _requestsRejected.Add(1);

    /// <summary>Fleet commands refused before running (see <see cref="ContinualLearning.Fleet.Signing.CommandRefusal"/>).</summary>
    public long CommandsRefused => _totals[_commandsRefused];

    internal void CountCommandRefused() => _commandsRefused.Add(1);
    internal void CountOversize() => _payloadsOversize.Add(1);

    internal void CountRateLimited() => _samplesRateLimited.Add(1);

    /// <summary>The agent whose outbox and connection the gauges read (null: none, the gauges read 0).</summary>
    internal void Attach(DeviceAgent agent) => Volatile.Write(ref _agent, agent);

    /// <summary>Stops reading <paramref name="agent"/> unless another one was attached since.</summary>
    internal void Detach(DeviceAgent agent) => Interlocked.CompareExchange(ref _agent, null, agent);

    /// <summary>Every metric in the Prometheus text exposition format (version 0.0.4), for <c>GET /metrics</c>.</summary>
    public string RenderPrometheus()
    {
        // One learner status for the whole scrape: reading it queries the sample store, and five gauges need it.
        t_scope = new StatusScope();
        try
        {
            return _exposition.Render();
        }
        finally
        {
            t_scope = null;
        }
    }

    public void Dispose()
    {
        _exposition.Dispose();
        _totals.Dispose();
        _meter.Dispose();
    }

    private Counter<long> Count(string name, string help) => _meter.CreateCounter<long>(name, description: help);

    private void Counter(string name, string help, Func<long> read) => _meter.CreateObservableCounter(name, read, description: help);

    private void Gauge(string name, string help, Func<long> read) => _meter.CreateObservableGauge(name, read, description: help);

    private IEnumerable<Measurement<long>> ModelInfo()
    {
        if (Status() is not { } s) return [];
        return [new Measurement<long>(1, new("model", s.ModelName), new("version", s.ModelVersion), new("engine", s.Engine))];
    }

    /// <summary>The learner's status: read once per <see cref="RenderPrometheus"/>, live for any other listener.</summary>
    private LearnerStatus? Status()
    {
        if (t_scope is not { } scope) return _learner()?.Status;
        if (!scope.Read)
        {
            scope.Status = _learner()?.Status;
            scope.Read = true;
        }
        return scope.Status;
    }

    private sealed class StatusScope
    {
        public LearnerStatus? Status;
        public bool Read;
    }
}
