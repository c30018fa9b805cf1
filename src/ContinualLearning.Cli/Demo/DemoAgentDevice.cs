using ContinualLearning.Bundle;
using ContinualLearning.Device;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Evaluation;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>Settings shared by every simulated device.</summary>
internal sealed record DemoDeviceContext(
    DemoOptions Options,
    string BrokerHost,
    int BrokerPort,
    DemoPki? Pki,
    string FleetPublicKeyPath,
    string StateDirectory,
    ModelBundle BaseBundle,
    ITrainingEngine Engine,
    string TransientDirectory,
    IDemoWorld World,
    string? OperatorPublicKeyPath = null);

/// <summary>
/// A simulated device that is the real daemon minus its host: <see cref="DeviceRuntime"/> (the
/// <c>ContinualLearner</c>, metrics) and <see cref="DeviceAgent"/> (delta outbox with error feedback, signed releases,
/// commands such as the aggregator's set-config cohort, status and telemetry), fed by the device's drifting shard.
/// A poisoned device (<c>--poison</c>) is the same device with its delta transport wrapped by
/// <see cref="PoisonedDeltaTransport"/>, as an attacker would modify its own client. The live table's counters come
/// from the runtime's and the agent's events.
/// </summary>
internal sealed class DemoAgentDevice(DemoDeviceContext context, DeviceStats stats) : IAsyncDisposable
{
    private readonly PrequentialAccuracy _accuracy = new(context.Options.CanaryWindow);
    private DeviceRuntime? _runtime;
    private DeviceAgent? _agent;
    private System.Security.Cryptography.ECDsa? _fleetKey;

    /// <summary>Deltas made but not yet acknowledged by the broker (the agent writes and publishes them asynchronously).</summary>
    public int PendingDeltas => _agent?.PendingDeltas ?? 0;

    /// <summary>The cluster the fleet's directory assigns this device to (with <c>--clusters</c>); null without.</summary>
    public int? Cluster => _agent?.Cluster;

    public async Task ConnectAsync(CancellationToken ct)
    {
        var o = context.Options;
        var transient = context.TransientDirectory;
        var options = new DeviceOptions
        {
            DeviceId = stats.Id,
            Fleet = o.Fleet,
            ModelName = o.ModelName,
            Cohort = stats.Shard.Canary ? "canary" : "all",
            // Its own certificate (CN = its device id), read from files as the daemon reads broker:tlsCertFile/tlsKeyFile.
            Broker = context.Pki is not { } pki
                ? new BrokerOptions { Host = context.BrokerHost, Port = context.BrokerPort }
                : new BrokerOptions
                {
                    Host = context.BrokerHost,
                    Port = context.BrokerPort,
                    Tls = true,
                    TlsCaFile = pki.CaFile,
                    TlsCertFile = pki.Device(stats.Id).CertificateFile,
                    TlsKeyFile = pki.Device(stats.Id).KeyFile,
                },
            FleetPublicKeyPath = context.FleetPublicKeyPath,
            Commands = new CommandOptions { OperatorKeyFiles = context.OperatorPublicKeyPath is { } operatorKey ? [operatorKey] : [] },
            DataDirectory = Path.Combine(context.StateDirectory, stats.Id),
            InitialBundle = context.BaseBundle.Directory,
            TransientStorePath = Path.Combine(transient, stats.Id + ".db"),
            AllowPersistentStore = !transient.StartsWith("/dev/shm", StringComparison.Ordinal),
            DeleteStoreOnStop = true,
            Engine = EngineChoice.Managed,
            HttpPort = null,
            // About every 25 samples (100–500 ms): the canary needs a few reports per canary device, and a slow
            // telemetry rate would stretch every rollout at fast stream rates.
            TelemetryInterval = TimeSpan.FromMilliseconds(Math.Clamp(25 * o.Duration.TotalMilliseconds / o.SamplesPerDevice, 100, 500)),
            // The demo triggers training itself (every TrainEvery labels), so the runtime's own loop is not started.
            TrainCheckInterval = TimeSpan.FromHours(1),
            Delta = new DeltaOptions { TopKFraction = o.DeltaFraction },
            AccuracyWindow = o.CanaryWindow,
            ReplayCapacity = context.World.ReplayCapacity,
            // Eight devices share this process and train often: a full GC around every run would only slow the demo.
            CompactHeapAroundRuns = false,
            Challenger = context.World.Challenger(o, stats.Id),
            Clustering = o.Clusters,
        };
        _runtime = new DeviceRuntime(options, context.Engine);
        _runtime.Promoted += _ => Interlocked.Increment(ref stats.Promotions);
        _runtime.Rebased += bundle =>
        {
            // With --clusters the release may be of a cluster model (m.c{k}): the device serves what it installed.
            stats.ModelName = bundle.Manifest.Name;
            stats.ModelVersion = bundle.Manifest.Version;
            Interlocked.Increment(ref stats.ReleasesInstalled);
        };
        await _runtime.OpenAsync(ct);
        _fleetKey = ReleaseKeys.LoadPublic(context.FleetPublicKeyPath);
        _agent = new DeviceAgent(_runtime, _fleetKey, logger: null, time: null,
            stats.Shard.Poisoned ? inner => new PoisonedDeltaTransport(inner) : null);
        _agent.DeltaAcknowledged += stats.CountDelta;
        await _agent.StartAsync(ct);
        await _agent.WaitUntilConnectedAsync(ct);
        stats.Online = true;
    }

    /// <summary>Streams the device's samples at the demo's pace; returns when the shard is used up.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var runtime = _runtime!;
        var o = context.Options;
        var time = TimeProvider.System;
        var interval = o.Duration.TotalMilliseconds / o.SamplesPerDevice;
        var started = time.GetTimestamp();
        long t = 0, sinceTraining = 0;
        foreach (var sample in stats.Shard.Stream)
        {
            if (t >= o.SamplesPerDevice) break;
            ct.ThrowIfCancellationRequested();
            // Serve, then the label arrives ("log and wait"): the prediction is scored before the label is learned.
            var prediction = runtime.Predict(sample.Features);
            _accuracy.Update(sample.Label, prediction.LabelIndex);
            runtime.Label(prediction.SampleId, sample.Label);
            t++;
            stats.Samples = t;
            stats.Concept = stats.Shard.ConceptAt(t);
            stats.Accuracy = _accuracy.WindowedAccuracy;
            if (++sinceTraining >= o.TrainEvery)
            {
                sinceTraining = 0;
                try
                {
                    await runtime.TrainNowAsync("demo: every " + o.TrainEvery + " labels", ct);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // A release was installed mid-run (the agent rebases from its own thread): the learner cancelled
                    // the run and kept its fresh samples for the next one, on the new base — as in the daemon's loop.
                }
                stats.TrainingRuns = (int)runtime.Metrics.TrainingRuns;
            }
            var ahead = t * interval - time.GetElapsedTime(started).TotalMilliseconds;
            if (ahead >= 5) await Task.Delay(TimeSpan.FromMilliseconds(ahead), time, ct);
        }
        stats.Finished = true;
    }

    public async Task StopAsync()
    {
        if (_agent is not null) await _agent.StopAsync();
        stats.Online = false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
        if (_runtime is not null) await _runtime.DisposeAsync();
        _fleetKey?.Dispose();
    }
}
