using System.Text.Json;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The <c>limits:*</c> keys and <c>learning:sampleSweepSeconds</c>: read from every layer, and every rule names its key.</summary>
public sealed class DeviceLimitsConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-device-limits-").FullName;
    private readonly string _key;

    public DeviceLimitsConfigurationTests()
    {
        _key = Path.Combine(_dir, "fleet.pub");
        File.WriteAllText(_key, "placeholder");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Limits_and_the_sweep_period_are_read_from_the_file_and_flags()
    {
        var file = Path.Combine(_dir, "device.json");
        File.WriteAllText(file, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["deviceId"] = "pi-07", ["fleet"] = "plant1", ["modelName"] = "elec2", ["fleetPublicKey"] = _key, ["dataDirectory"] = _dir,
            ["limits"] = new { sampleMaxBytes = 4096, releaseMaxBytes = 8192, releaseChunkMaxBytes = 65536, commandMaxBytes = 2048, samplesPerSecond = 2.5, sampleBurst = 10 },
            ["learning"] = new { sampleSweepSeconds = 15 },
        }));

        var o = DeviceOptionsReader.Read(DeviceOptionsReader.Build(file, new ConfigurationFlags().Set("limits:sampleBurst", "--x", "20"), environmentPrefix: null));

        Assert.Equal(new DeviceLimits { SampleMaxBytes = 4096, ReleaseMaxBytes = 8192, ReleaseChunkMaxBytes = 65536, CommandMaxBytes = 2048, SamplesPerSecond = 2.5, SampleBurst = 20 }, o.Limits);
        Assert.Equal(TimeSpan.FromSeconds(15), o.SampleSweepInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), o.ToLearnerOptions().SampleSweepInterval);
    }

    [Fact]
    public void Defaults_cap_samples_at_1_MiB_and_derive_the_sweep_from_the_ttl()
    {
        var o = new DeviceOptions { DeviceId = "d", Fleet = "f", ModelName = "m", FleetPublicKeyPath = _key };
        Assert.Equal(1024 * 1024, o.Limits.SampleMaxBytes);
        Assert.Null(o.SampleSweepInterval);
    }

    [Theory]
    [InlineData("limits:sampleMaxBytes")]
    [InlineData("limits:releaseMaxBytes")]
    [InlineData("limits:releaseChunkMaxBytes")]
    [InlineData("limits:commandMaxBytes")]
    [InlineData("limits:samplesPerSecond")]
    [InlineData("limits:sampleBurst")]
    [InlineData("learning:sampleSweepSeconds")]
    public void Every_limit_rule_names_its_key_value_and_fix(string key)
    {
        var valid = new DeviceOptions { DeviceId = "pi-07", Fleet = "plant1", ModelName = "elec2", FleetPublicKeyPath = _key, DataDirectory = _dir };
        var l = valid.Limits;
        var broken = key switch
        {
            "limits:sampleMaxBytes" => valid with { Limits = l with { SampleMaxBytes = 10 } },
            "limits:releaseMaxBytes" => valid with { Limits = l with { ReleaseMaxBytes = 0 } },
            "limits:releaseChunkMaxBytes" => valid with { Limits = l with { ReleaseChunkMaxBytes = -1 } },
            "limits:commandMaxBytes" => valid with { Limits = l with { CommandMaxBytes = 1 } },
            "limits:samplesPerSecond" => valid with { Limits = l with { SamplesPerSecond = double.NaN } },
            "limits:sampleBurst" => valid with { Limits = l with { SampleBurst = 0 } },
            _ => valid with { SampleSweepInterval = TimeSpan.Zero },
        };

        var error = Assert.Single(Assert.Throws<ConfigurationException>(() => broken.Validate()).Errors);

        Assert.Equal(key, error.Key);
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }
}
