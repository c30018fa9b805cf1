using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Device;
using ContinualLearning.Device.Agent;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// A canary rollout seen by a real <see cref="DeviceAgent"/> (not a simulated device) over the embedded broker: the
/// rollout coordinator, the real release publisher (signed releases, signed cohort command) and the device's installer.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class CanaryRollbackAgentTests(EmbeddedBrokerFixture broker) : IAsyncLifetime
{
    private readonly DeviceTestKit _kit = new(broker.Broker.Port, deviceId: "canary-1");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly AggregatorMetrics _metrics = new();
    private ModelRegistry? _registry;
    private FleetMqttClient? _aggregator;
    private DeviceRuntime? _runtime;
    private DeviceAgent? _agent;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_agent is not null) await _agent.DisposeAsync();
        if (_runtime is not null) await _runtime.DisposeAsync();
        if (_aggregator is not null) await _aggregator.DisposeAsync();
        _registry?.Dispose();
        _metrics.Dispose();
        _kit.Dispose();
    }

    [Fact]
    public async Task Attack_canary_rollback_reaches_the_real_device_agent()
    {
        // Registry: 1.0.0 released (what the device runs), 1.1.0 the candidate, both bundles the device can install.
        _registry = ModelRegistry.Open(Path.Combine(_kit.Root, "registry"));
        RegistryModels.Import(_registry, _kit.Bundle("1.0.0"), VersionStatus.Released);
        var candidateDir = Path.Combine(_kit.Root, "candidate");
        var manifest = DeviceTestKit.Manifest("1.1.0") with { ParentVersion = "1.0.0" };
        ContinualLearning.Bundle.ModelBundle.Save(candidateDir, manifest, HeadInitializer.Initialize(manifest.Head, 2));
        var candidate = RegistryModels.Import(_registry, candidateDir, VersionStatus.Candidate).Record;

        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0") };
        _runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        await _runtime.OpenAsync(TestContext.Current.CancellationToken);
        _agent = new DeviceAgent(_runtime, _kit.Key);
        await _agent.StartAsync(TestContext.Current.CancellationToken);
        await _agent.WaitUntilConnectedAsync(TestContext.Current.CancellationToken);

        _aggregator = new FleetMqttClient(broker.ClientOptions(_kit.Fleet + "-aggregator"));
        await _aggregator.StartAsync(TestContext.Current.CancellationToken);
        var options = new AggregatorOptions
        {
            Fleet = _kit.Fleet, ModelName = DeviceTestKit.Model, RegistryPath = _registry.Directory, PrivateKeyPath = "unused",
            Rollout = new RolloutOptions { CanaryDevices = [_kit.DeviceId], MinReports = 1, Window = TimeSpan.FromMinutes(5) },
        };
        // The device trusts the kit's operator key for commands and the kit's fleet key for releases.
        var publisher = new ReleasePublisher(_aggregator, _kit.Fleet, _kit.Key, chunkSize: 1024, operatorKey: _kit.OperatorKey);
        var coordinator = new RolloutCoordinator(_registry, options, publisher, new Journal(_registry, _metrics, NullLogger.Instance), _time, NullLogger.Instance, (_, _) => { });

        await coordinator.StartAsync(candidate, [_kit.DeviceId, "control-1"], TestContext.Current.CancellationToken);
        await Polling.WaitUntil(() => _runtime.Learner?.Status.BaseVersion, v => v == "1.1.0", "the canary device installed the candidate 1.1.0");
        Assert.Equal("canary", _agent.Settings.Cohort);

        // No canary reports within the window: rolled back to 1.0.0, re-published with a higher release sequence.
        _time.Advance(TimeSpan.FromMinutes(5));
        var decision = await coordinator.CheckAsync([], TestContext.Current.CancellationToken);
        Assert.Equal(RolloutVerdict.Rollback, decision!.Verdict);

        await Polling.WaitUntil(() => _runtime.Learner?.Status.BaseVersion, v => v == "1.0.0", "the canary device serves 1.0.0 again after the rollback");
        Assert.Equal(_registry.Releases.Highest(DeviceTestKit.Model), _agent.AcceptedReleaseSequence);
        Assert.Null(_agent.LastReleaseRejection);
    }
}
