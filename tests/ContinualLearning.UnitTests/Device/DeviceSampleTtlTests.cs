using ContinualLearning.Device;
using ContinualLearning.Training;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Attack 10 through the daemon's own wiring: <c>learning:sampleTtlMinutes</c> and the sweep reach the store.</summary>
public sealed class DeviceSampleTtlTests : IDisposable
{
    private readonly DeviceTestKit _kit = new(brokerPort: 1);

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task Attack_samples_outlive_a_30s_ttl_on_tmpfs_until_a_run_are_swept_by_the_daemon()
    {
        // Measured on the old daemon: TTL 30 s, rows 77 s old still in the sample database on tmpfs.
        var clock = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        var options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0"), SampleTtl = TimeSpan.FromSeconds(30) };
        await using var runtime = new DeviceRuntime(options, new ManagedEngine(), time: clock);
        await runtime.OpenAsync();
        var rng = new Random(1);
        for (var i = 0; i < 10; i++)
        {
            var (x, y) = DeviceTestKit.Sea(rng);
            runtime.AddLabelled(x, y);
        }
        runtime.Predict([1f, 2f, 3f]);
        Assert.Equal(11, runtime.Learner!.Status.StoredSamples);

        clock.Advance(TimeSpan.FromSeconds(77));

        Assert.Equal(0, runtime.Learner.Status.StoredSamples);
        Assert.Equal(0, runtime.Metrics.TrainingRuns);
    }
}
