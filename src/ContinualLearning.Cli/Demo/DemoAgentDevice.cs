using System.Diagnostics;
using ContinualLearning.Device;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Evaluation;
using ContinualLearning.Learning;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>What the runner needs from a simulated device, whichever MQTT side it uses.</summary>
internal interface IDemoDevice : IAsyncDisposable
{
    Task ConnectAsync(CancellationToken ct);

    Task RunAsync(CancellationToken ct);

    Task StopAsync();

    /// <summary>Deltas made but not yet acknowledged by the broker (the agent's outbox publishes asynchronously).</summary>
    int PendingDeltas { get; }
}

/// <summary>
/// A simulated device that is the real daemon minus its host: <see cref="DeviceRuntime"/> (the
/// <c>ContinualLearner</c>, metrics) and <see cref="DeviceAgent"/> (delta outbox with error feedback, signed releases,
/// commands such as the aggregator's set-config cohort, status and telemetry), fed by the device's drifting shard.
/// The default for honest devices (<c>--demo-device</c> switches to <see cref="DemoDevice"/>). Poisoned devices never
/// use it: an attacker runs a modified client, and the agent has no way to corrupt its deltas.
/// </summary>
internal sealed class DemoAgentDevice(DemoDeviceContext context, DeviceStats stats, string fleetPublicKeyPath) : IDemoDevice
{
    private readonly PrequentialAccuracy _accuracy = new(context.Options.CanaryWindow);
    private DeviceRuntime? _runtime;
    private DeviceAgent? _agent;

    public int PendingDeltas => _agent?.Outbox.Count ?? 0;

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
            Broker = new BrokerOptions { Host = context.ClientTemplate.Host, Port = context.ClientTemplate.Port },
            FleetPublicKeyPath = fleetPublicKeyPath,
            DataDirectory = Path.Combine(context.StateDirectory, stats.Id),
            InitialBundle = context.BaseBundle.Directory,
            TransientStorePath = Path.Combine(transient, stats.Id + ".db"),
            AllowPersistentStore = !transient.StartsWith("/dev/shm", StringComparison.Ordinal),
            DeleteStoreOnStop = true,
            Engine = EngineChoice.Managed,
            HttpPort = null,
            // About every 25 samples (100–500 ms), as often as DemoDevice reports: the canary needs a few reports per
            // canary device, and a slow telemetry rate would stretch every rollout at fast stream rates.
            TelemetryInterval = TimeSpan.FromMilliseconds(Math.Clamp(25 * o.Duration.TotalMilliseconds / o.SamplesPerDevice, 100, 500)),
            // The demo triggers training itself (every TrainEvery labels), so the runtime's own loop is not started.
            TrainCheckInterval = TimeSpan.FromHours(1),
            Delta = new DeltaOptions { TopKFraction = o.DeltaFraction },
            AccuracyWindow = o.CanaryWindow,
            ReplayCapacity = DemoScenario.ReplayCapacity,
            // Eight devices share this process and train often: a full GC around every run would only slow the demo.
            CompactHeapAroundRuns = false,
            Challenger = DemoScenario.Challenger(o, stats.Id),
        };
        _runtime = new DeviceRuntime(options, context.Engine);
        _runtime.Promoted += _ => stats.Promotions++;
        _runtime.Rebased += bundle =>
        {
            stats.ModelVersion = bundle.Manifest.Version;
            stats.ReleasesInstalled++;
        };
        await _runtime.OpenAsync(ct);
        _agent = new DeviceAgent(_runtime, Fleet.Signing.ReleaseKeys.LoadPublic(fleetPublicKeyPath));
        _agent.DeltaAcknowledged += _ => Interlocked.Increment(ref stats.DeltasSent);
        stats.BytesFromMonitor = true;
        await _agent.StartAsync(ct);
        await _agent.WaitUntilConnectedAsync(ct);
        stats.Online = true;
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var runtime = _runtime!;
        var o = context.Options;
        var interval = o.Duration.TotalMilliseconds / o.SamplesPerDevice;
        var clock = Stopwatch.StartNew();
        long t = 0, sinceTraining = 0;
        foreach (var sample in stats.Shard.Stream)
        {
            if (t >= o.SamplesPerDevice) break;
            ct.ThrowIfCancellationRequested();
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
                    if (await runtime.TrainNowAsync("demo: every " + o.TrainEvery + " labels", ct) is not null) stats.TrainingRuns++;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // A release was installed mid-run (the agent rebases from its own thread): the learner cancelled
                    // the run and kept its fresh samples for the next one, on the new base — as in the daemon's loop.
                }
            }
            var ahead = t * interval - clock.Elapsed.TotalMilliseconds;
            if (ahead >= 5) await Task.Delay(TimeSpan.FromMilliseconds(ahead), ct);
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
    }
}
