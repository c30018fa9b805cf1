using System.Diagnostics;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// Builds the device's retained status and its telemetry records, publishes the status when something changed and
/// the telemetry every <see cref="RuntimeSettings.TelemetryInterval"/> (sooner after a <see cref="Nudge"/>).
/// </summary>
internal sealed partial class TelemetryReporter(DeviceRuntime runtime, RuntimeSettings settings, IFleetConnection connection, DeltaPublisher deltas, ILogger logger, TimeProvider time)
    : IDisposable
{
    /// <summary>Labelled samples the installed release must have served before telemetry reports its accuracy (capped at the accuracy window).</summary>
    public const int MinAccuracySamples = 25;

    private readonly SemaphoreSlim _signal = new(0);
    private readonly Lock _cpuLock = new();
    private readonly string _statusTopic = FleetTopics.Status(runtime.Options.Fleet, runtime.Options.DeviceId);
    private readonly string _telemetryTopic = FleetTopics.Telemetry(runtime.Options.Fleet, runtime.Options.DeviceId);
    private TimeSpan _lastCpu;
    private long _lastCpuAt;

    public DeviceStatus BuildStatus(DeviceState state = DeviceState.Online)
    {
        var s = runtime.Learner?.Status;
        return new DeviceStatus
        {
            DeviceId = runtime.Options.DeviceId,
            State = state,
            Timestamp = time.GetUtcNow(),
            ModelName = s?.ModelName ?? runtime.Options.ModelName,
            ModelVersion = s?.ModelVersion,
            BaseVersion = s?.BaseVersion,
            Engine = runtime.Engine.Name,
            Cohort = settings.Cohort,
            Paused = s?.Paused ?? false,
            SamplesSeen = runtime.Metrics.Predictions,
            SamplesStored = s?.StoredSamples ?? 0,
            TrainingRuns = runtime.Metrics.TrainingRuns,
            DeltasSent = runtime.Metrics.DeltasSent,
        };
    }

    public Telemetry BuildTelemetry()
    {
        var s = runtime.Learner?.Status;
        using var process = Process.GetCurrentProcess();
        var cpuPercent = CpuPercentSinceLastCall(process.TotalProcessorTime);
        var extra = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["queueDepth"] = deltas.Outbox.Count,
            ["deltasDropped"] = runtime.Metrics.DeltasDropped,
            ["promotions"] = runtime.Metrics.Promotions,
            ["driftAlarms"] = runtime.Metrics.DriftAlarms,
            ["residualNorm"] = deltas.ResidualNorm,
        };
        // Under concept-aware aggregation: the cluster whose model the device serves (0 until a cluster model is installed).
        if (runtime.Options.Clustering && s is not null) extra["cluster"] = ContinualLearning.Deltas.ClusterNames.Parse(s.ModelName).Cluster;
        return new Telemetry
        {
            DeviceId = runtime.Options.DeviceId,
            Timestamp = time.GetUtcNow(),
            ModelVersion = s?.ModelVersion,
            BaseVersion = s?.BaseVersion,
            // Accuracy of the installed release (BaseVersion) since it was installed, local fine-tunes included: the
            // aggregator's canary compares releases, and a window that restarted at every local promotion would
            // credit the control cohort with its freshly fine-tuned champions while the canaries serve the raw
            // candidate. A window over a handful of samples is ±10 points of noise, so none is sent until it holds enough.
            Accuracy = s?.ReleaseWindowedSamples >= Math.Min(MinAccuracySamples, runtime.Options.AccuracyWindow) ? s.ReleaseWindowedAccuracy : null,
            AccuracyWindow = (int)(s?.ReleaseWindowedSamples ?? 0),
            Drift = s?.DriftPending == true ? DriftState.Drift : DriftState.Stable,
            DriftDetector = s?.DriftDetector,
            CpuPercent = Math.Round(cpuPercent, 2),
            MemoryBytes = process.WorkingSet64,
            PrivacyEpsilon = deltas.Privacy.EpsilonSpent,
            PrivacyBudgetSpent = deltas.Privacy.BudgetSpent ? true : null,
            Extra = extra,
        };
    }

    /// <summary>Publishes the retained status (QoS 1).</summary>
    public Task PublishStatusAsync(CancellationToken cancellationToken, DeviceState state = DeviceState.Online) =>
        connection.PublishAsync(_statusTopic, FleetJson.Serialize(BuildStatus(state)), retain: true, cancellationToken: cancellationToken);

    /// <summary>Publishes the status when connected; a failure is only logged (the birth message carries it after a reconnect).</summary>
    public async Task PublishStatusSafeAsync(CancellationToken stop)
    {
        if (!connection.IsConnected || stop.IsCancellationRequested) return;
        try
        {
            await PublishStatusAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or TimeoutException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            LogStatusSkipped(logger, ex.Message);
        }
    }

    /// <summary>Publishes one telemetry record.</summary>
    public Task PublishTelemetryAsync(FleetQos delivery, CancellationToken cancellationToken) =>
        connection.PublishAsync(_telemetryTopic, FleetJson.Serialize(BuildTelemetry()), delivery, cancellationToken: cancellationToken);

    /// <summary>Sends the next telemetry record now (e.g. after set-config changed the interval or cohort).</summary>
    public void Nudge() => _signal.Release();

    /// <summary>Publishes telemetry at QoS 0 every interval while connected, until <paramref name="stop"/>.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await _signal.WaitAsync(settings.TelemetryInterval, time, stop).ConfigureAwait(false);
            if (stop.IsCancellationRequested || !connection.IsConnected) continue;
            try
            {
                await PublishTelemetryAsync(FleetQos.AtMostOnce, stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTelemetryFailed(logger, ex.Message);
            }
        }
    }

    public void Dispose() => _signal.Dispose();

    /// <summary>The process's CPU use since the previous record, as a share of all cores (0 for the first record).</summary>
    private double CpuPercentSinceLastCall(TimeSpan cpu)
    {
        lock (_cpuLock)
        {
            var now = time.GetTimestamp();
            double percent = 0;
            if (_lastCpuAt != 0)
            {
                var wall = time.GetElapsedTime(_lastCpuAt, now).TotalSeconds;
                if (wall > 0) percent = 100 * (cpu - _lastCpu).TotalSeconds / wall / Environment.ProcessorCount;
            }
            _lastCpu = cpu;
            _lastCpuAt = now;
            return percent;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Status publish skipped: {Reason}")]
    private static partial void LogStatusSkipped(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Telemetry publish failed: {Reason}")]
    private static partial void LogTelemetryFailed(ILogger logger, string reason);
}
