using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.UnitTests.DeviceImages;

/// <summary>
/// The .deb's templates (device-images/deb) must agree with the daemon: the shipped device.json must pass the
/// daemon's own configuration reader, and the systemd unit's writable directories must be the ones the config uses.
/// </summary>
public sealed class PackageTemplateTests
{
    private static readonly string s_templates = Path.Combine(RepoRoot(), "device-images", "deb");

    [Fact]
    public void DeviceJsonTemplate_IsAcceptedByTheDaemonsReader_AndKeepsDataWhereTheUnitAllowsWrites()
    {
        var dir = Directory.CreateTempSubdirectory("cl-template-").FullName;
        try
        {
            // The template names /etc/continual-learning/fleet-public.pem, which a test machine lacks: point it at a real key.
            var publicKey = Path.Combine(dir, "fleet-public.pem");
            using (var key = ReleaseKeys.Generate())
                ReleaseKeys.Save(key, Path.Combine(dir, "fleet.key"), publicKey);
            var config = DeviceOptionsReader.Build(Path.Combine(s_templates, "device.json"),
                [new KeyValuePair<string, string?>("fleetPublicKey", publicKey)], readEnvironment: false);

            var options = DeviceOptionsReader.Read(config);

            var unit = ReadUnit();
            Assert.Equal("/var/lib/" + unit["StateDirectory"].Single(), options.DataDirectory);
            Assert.NotNull(options.TransientStorePath);
            Assert.StartsWith("/run/" + unit["RuntimeDirectory"].Single() + "/", options.TransientStorePath, StringComparison.Ordinal);
            Assert.Equal(EngineChoice.Auto, options.Engine);
            // The template's broker is a TLS port: a device installed from it must not talk plain MQTT to it.
            Assert.Equal(8883, options.Broker.Port);
            Assert.True(options.Broker.Tls, "the shipped device.json points at port 8883 and must set \"broker:tls\": true");
            Assert.False(options.Gpio.Enabled);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ServiceUnit_RunsTheDaemonUnprivilegedWithOnlyStateAndRuntimeWritable()
    {
        var unit = ReadUnit();

        Assert.Equal($"/opt/continual-learning/cl-device run --config {DeviceOptions.DefaultConfigPath}", unit["ExecStart"].Single());
        Assert.Equal("notify", unit["Type"].Single());
        Assert.Equal("cl-device", unit["User"].Single());
        Assert.Equal("strict", unit["ProtectSystem"].Single());
        foreach (var yes in new[] { "ProtectHome", "PrivateTmp", "NoNewPrivileges", "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups" })
            Assert.Equal("yes", unit[yes].Single());
        Assert.Equal("", unit["CapabilityBoundingSet"].Single());
        Assert.Equal("on-failure", unit["Restart"].Single());
        Assert.Equal("closed", unit["DevicePolicy"].Single());
        Assert.Contains("/dev/gpiochip0 rw", unit["DeviceAllow"]);
        Assert.Equal("gpio", unit["SupplementaryGroups"].Single());
        // Anything more would let the daemon write outside its state (model store) and runtime (tmpfs sample store) dirs.
        Assert.False(unit.ContainsKey("ReadWritePaths"));
        // The daemon pings at half the interval (SystemdWatchdog); Restart=on-failure also covers watchdog timeouts.
        Assert.Equal("60s", unit["WatchdogSec"].Single());
        // PrivateDevices=yes would hide /dev/gpiochip0 whatever DeviceAllow says.
        Assert.False(unit.TryGetValue("PrivateDevices", out var privateDevices) && privateDevices.Contains("yes"));
    }

    [Fact]
    public void MaintainerScripts_CreateTheSystemUserTheUnitRunsAs()
    {
        var postinst = File.ReadAllText(Path.Combine(s_templates, "postinst"));
        var user = ReadUnit()["User"].Single();

        Assert.Contains($"adduser --quiet --system --group --no-create-home --home /var/lib/continual-learning {user}", postinst, StringComparison.Ordinal);
        Assert.StartsWith("#!/bin/sh", postinst, StringComparison.Ordinal);
    }

    private static Dictionary<string, List<string>> ReadUnit()
    {
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var raw in File.ReadLines(Path.Combine(s_templates, "cl-device.service")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';' or '[') continue;
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0) continue;
            var key = line[..eq];
            if (!values.TryGetValue(key, out var list)) values[key] = list = [];
            list.Add(line[(eq + 1)..]);
        }
        return values;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ContinualLearning.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"ContinualLearning.sln not found above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
