using ContinualLearning.Device;
using System.Text;
using ContinualLearning.Device.Agent;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The sample flood (attack 1) and an oversize sample (attack 6) through a real broker into a running agent.</summary>
public sealed class InboundLimitsBrokerTests : IAsyncLifetime
{
    private const int Burst = 100;
    private const double Rate = 1;
    private readonly EmbeddedBroker _broker = new();
    private DeviceTestKit _kit = null!;
    private DeviceRuntime _runtime = null!;
    private DeviceAgent _agent = null!;
    private FleetMqttClient _attacker = null!;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0"), Limits = new DeviceLimits { SamplesPerSecond = Rate, SampleBurst = Burst } };
        _runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        await _runtime.OpenAsync();
        _agent = new DeviceAgent(_runtime, _kit.Key);
        await _agent.StartAsync();
        await _agent.WaitUntilConnectedAsync().WaitAsync(DefaultPatience);
        _attacker = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "attacker", Port = _broker.Port });
        await _attacker.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _attacker.DisposeAsync();
        await _agent.DisposeAsync();
        await _runtime.DisposeAsync();
        await _broker.DisposeAsync();
        _kit.Dispose();
    }

    [Fact]
    public async Task Attack_QoS0_sample_flood_over_the_broker_is_held_to_the_rate_limit()
    {
        // Measured on the old daemon: 133,021 labelled samples in 10 s at QoS 0, all stored; the volume trigger fired.
        var topic = FleetTopics.Samples(_kit.Fleet, _kit.DeviceId);
        var sample = Encoding.UTF8.GetBytes("{\"features\":[1,2,3],\"label\":\"UP\"}");
        var started = TimeProvider.System.GetTimestamp();
        for (var i = 0; i < 2_000; i++) await _attacker.PublishAsync(topic, sample, FleetQos.AtMostOnce);
        // Then one sample just over the 1 MiB cap (a bigger one the broker drops: the device announces its maximum packet
        // size). Messages from one client arrive in order, so once it is counted the flood has been handled.
        await _attacker.PublishAsync(topic, new byte[_kit.Options.Limits.SampleMaxBytes + 100], FleetQos.AtMostOnce);
        await WaitUntil(() => _runtime.Metrics.PayloadsOversize == 1);
        var seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;

        var stored = _runtime.Learner!.Status.StoredSamples;
        Assert.InRange(stored, 1, Burst + (long)Math.Ceiling(seconds * Rate));
        Assert.Equal(stored, _runtime.Metrics.Labels);
        Assert.True(_runtime.Metrics.SamplesRateLimited > 0, "the excess was refused by the rate limit");
        Assert.Equal(0, _runtime.Metrics.TrainingRuns);
    }
}
