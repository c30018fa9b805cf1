using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.UnitTests.Device;

public sealed class DeviceOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-device-options-").FullName;

    [Fact]
    public void Reads_file_then_overrides_and_validates()
    {
        var key = Path.Combine(_dir, "fleet.pub");
        File.WriteAllText(key, "placeholder");
        var config = Path.Combine(_dir, "device.json");
        File.WriteAllText(config, $$$"""
            {"deviceId":"pi-07","fleet":"plant1","modelName":"elec2","broker":"broker.local:8883","fleetPublicKey":"{{{key}}}",
             "delta":{"topKFraction":0.05,"encoding":"float16"},"learning":{"minSamples":32,"replayPolicy":"class-balanced"},
             "gpio":{"enabled":true,"ledPin":17,"buttonPin":27}}
            """);
        var options = DeviceOptionsReader.Read(DeviceOptionsReader.Build(config, new Dictionary<string, string?> { ["broker"] = "10.0.0.5:1884", ["cohort"] = "canary" }, readEnvironment: false));

        Assert.Equal("pi-07", options.DeviceId);
        Assert.Equal("10.0.0.5", options.Broker.Host);
        Assert.Equal(1884, options.Broker.Port);
        Assert.Equal("canary", options.Cohort);
        Assert.Equal(0.05, options.Delta.TopKFraction);
        Assert.Equal(ContinualLearning.Deltas.DeltaEncoding.Float16, options.Delta.Encoding);
        Assert.Equal(32, options.Challenger.MinSamples);
        Assert.Equal(ContinualLearning.Replay.ReplayPolicyKind.ClassBalanced, options.ReplayPolicy);
        Assert.Equal(17, options.Gpio.LedPin);
        Assert.Equal(8080, options.HttpPort);
        Assert.True(options.CompactHeapAroundRuns, "the daemon compacts the heap around runs unless told not to");
        Assert.True(options.ToLearnerOptions().CompactHeapAroundRuns);
    }

    [Fact]
    public void Heap_compaction_around_runs_can_be_turned_off()
    {
        var key = Path.Combine(_dir, "fleet.pub");
        File.WriteAllText(key, "placeholder");
        var options = DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, new Dictionary<string, string?>
        {
            ["deviceId"] = "pi-07", ["fleet"] = "plant1", ["modelName"] = "sea", ["fleetPublicKey"] = key, ["learning:compactHeap"] = "false",
        }, readEnvironment: false));

        Assert.False(options.CompactHeapAroundRuns);
        Assert.False(options.ToLearnerOptions().CompactHeapAroundRuns);
        Assert.False(new ContinualLearning.Learning.LearnerOptions { ModelStoreDirectory = "m", StorePath = "s" }.CompactHeapAroundRuns, "off by default outside the daemon");
    }

    [Fact]
    public void Reports_every_problem_with_key_value_and_fix()
    {
        var overrides = new Dictionary<string, string?>
        {
            ["deviceId"] = "pi/07",
            ["broker"] = "broker:notaport",
            ["delta:topKFraction"] = "1.5",
            ["learning:minSamples"] = "many",
            ["engine"] = "gpu",
            ["fleetPublicKey"] = Path.Combine(_dir, "missing.pub"),
            ["gpio:enabled"] = "true",
        };
        var ex = Assert.Throws<ConfigurationException>(() => DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, overrides, readEnvironment: false)));

        var byKey = ex.Errors.ToDictionary(e => e.Key);
        Assert.Contains("'/'", byKey["deviceId"].Fix);
        Assert.Equal("broker:notaport", byKey["broker"].Value);
        Assert.Equal("1.5", byKey["delta:topKFraction"].Value);
        Assert.Equal("many", byKey["learning:minSamples"].Value);
        Assert.Contains("managed", byKey["engine"].Fix);
        Assert.Contains("does not exist", byKey["fleetPublicKey"].Problem);
        Assert.Contains("gpio:ledPin", byKey["gpio:enabled"].Problem);
        Assert.Contains("required", byKey["fleet"].Problem);
        Assert.Contains("modelName", ex.Message);
    }

    [Fact]
    public void Explicit_config_file_must_exist()
    {
        var ex = Assert.Throws<ConfigurationException>(() => DeviceOptionsReader.Build(Path.Combine(_dir, "nope.json")));
        Assert.Equal("--config", Assert.Single(ex.Errors).Key);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
