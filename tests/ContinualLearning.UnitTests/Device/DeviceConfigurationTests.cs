using System.Text.Json;
using ContinualLearning.Deltas;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Learning;
using ContinualLearning.Replay;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// The daemon's configuration end to end: every documented key reaches <see cref="DeviceOptions"/>, the layers override
/// each other in order, and every rule of <see cref="DeviceOptionsValidator"/> reports its key.
/// </summary>
public sealed class DeviceConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-device-config-").FullName;
    private readonly string _prefix = $"CL_TEST_{Guid.NewGuid():N}_";
    private readonly List<string> _variables = [];
    private readonly string _key;

    public DeviceConfigurationTests()
    {
        _key = Path.Combine(_dir, "fleet.pub");
        File.WriteAllText(_key, "placeholder");
    }

    [Fact]
    public void Every_documented_key_is_read()
    {
        var ca = Touch("ca.pem");
        var bundle = Directory.CreateDirectory(Path.Combine(_dir, "bundle")).FullName;
        Touch("bundle/manifest.json");
        var file = WriteJson(new Dictionary<string, object>
        {
            ["deviceId"] = "pi-07", ["fleet"] = "plant1", ["modelName"] = "elec2", ["cohort"] = "canary",
            // JSON cannot give "broker" a value and children; a key with ':' sets a child next to the value.
            ["broker"] = "broker.local:8883", ["broker:tls"] = true, ["broker:tlsCaFile"] = ca, ["broker:tlsAllowUntrusted"] = "yes",
            ["broker:username"] = "user", ["broker:password"] = "secret",
            ["fleetPublicKey"] = _key, ["dataDirectory"] = Path.Combine(_dir, "state"), ["bundle"] = bundle, ["transientStore"] = "/dev/shm/t.db",
            ["allowPersistentStore"] = true, ["deleteStoreOnStop"] = true, ["engine"] = "managed",
            ["http"] = new { enabled = true, port = 0 },
            ["telemetryIntervalSeconds"] = 7.5, ["trainCheckIntervalSeconds"] = 2, ["shutdownTimeoutSeconds"] = 9,
            ["delta"] = new { topKFraction = 0.05, encoding = "float32", outboxMaxFiles = 3, outboxMaxBytes = 4096 },
            ["learning"] = new
            {
                minSamples = 10, maxSamples = 20, batchSize = 4, epochs = 2, replayRatio = 0.25, holdoutFraction = 0.3, accuracyMargin = 0.01,
                mode = "stateless", seed = 5, accuracyWindow = 50, compactHeap = false, replayCapacity = 0, replayPolicy = "class-balanced",
                maxStoredSamples = 99, sampleTtlMinutes = 30, clustering = true,
            },
            ["gpio"] = new { enabled = true, chip = 4, ledPin = 17, buttonPin = 27, simulated = true },
            ["logging"] = new { format = "json" },
        });

        var o = DeviceOptionsReader.Read(DeviceOptionsReader.Build(file, readEnvironment: false));

        Assert.Equal(("pi-07", "plant1", "elec2", "canary"), (o.DeviceId, o.Fleet, o.ModelName, o.Cohort));
        Assert.True(o.Clustering);
        Assert.Equal(new BrokerOptions { Host = "broker.local", Port = 8883, Tls = true, TlsCaFile = ca, TlsAllowUntrusted = true, Username = "user", Password = "secret" }, o.Broker);
        Assert.Equal((_key, Path.Combine(_dir, "state"), bundle, "/dev/shm/t.db"), (o.FleetPublicKeyPath, o.DataDirectory, o.InitialBundle, o.TransientStorePath));
        Assert.Equal((true, true, EngineChoice.Managed, (int?)0), (o.AllowPersistentStore, o.DeleteStoreOnStop, o.Engine, o.HttpPort));
        Assert.Equal((TimeSpan.FromSeconds(7.5), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(9)), (o.TelemetryInterval, o.TrainCheckInterval, o.ShutdownTimeout));
        Assert.Equal(new DeltaOptions { TopKFraction = 0.05, Encoding = DeltaEncoding.Float32, OutboxMaxFiles = 3, OutboxMaxBytes = 4096 }, o.Delta);
        Assert.Equal(new ChallengerOptions { MinSamples = 10, MaxSamples = 20, BatchSize = 4, Epochs = 2, ReplayRatio = 0.25, HoldoutFraction = 0.3, AccuracyMargin = 0.01, Mode = LearningMode.Stateless, Seed = 5 }, o.Challenger);
        Assert.Equal((50, false, 0, ReplayPolicyKind.ClassBalanced, 99, TimeSpan.FromMinutes(30)), (o.AccuracyWindow, o.CompactHeapAroundRuns, o.ReplayCapacity, o.ReplayPolicy, o.MaxStoredSamples, o.SampleTtl));
        Assert.Equal(new GpioOptions { Enabled = true, Chip = 4, LedPin = 17, ButtonPin = 27, Simulated = true }, o.Gpio);
        Assert.Equal(LogFormat.Json, o.LogFormat);
    }

    [Fact]
    public void Environment_overrides_the_file_and_flags_override_the_environment()
    {
        var file = WriteJson(new Dictionary<string, object>
        {
            ["deviceId"] = "from-file", ["fleet"] = "plant1", ["modelName"] = "elec2", ["fleetPublicKey"] = _key, ["cohort"] = "from-file",
            ["delta"] = new { topKFraction = 0.02 }, ["http"] = new { port = 9000 },
        });
        SetEnvironment("COHORT", "from-env");
        SetEnvironment("DEVICEID", "from-env");
        SetEnvironment("DELTA__TOPKFRACTION", "0.05");
        SetEnvironment("HTTP__ENABLED", "off");

        var o = DeviceOptionsReader.Read(DeviceOptionsReader.Build(file, new ConfigurationFlags().Set("deviceId", "--id", "from-flag"), _prefix));

        Assert.Equal(("from-flag", "from-env", "plant1", 0.05), (o.DeviceId, o.Cohort, o.Fleet, o.Delta.TopKFraction));
        Assert.Null(o.HttpPort);
    }

    [Fact]
    public void Errors_say_where_each_bad_value_came_from()
    {
        var file = WriteJson(new Dictionary<string, object> { ["deviceId"] = "a/b", ["fleet"] = "plant1", ["modelName"] = "elec2", ["fleetPublicKey"] = _key });
        SetEnvironment("DELTA__TOPKFRACTION", "2");
        var flags = new ConfigurationFlags().Set("broker", "--broker", "foo:bar");

        var ex = Assert.Throws<ConfigurationException>(() => DeviceOptionsReader.Read(DeviceOptionsReader.Build(file, flags, _prefix)));

        var bySource = ex.Errors.ToDictionary(e => e.Key, e => e.Source);
        Assert.Equal("--broker", bySource["broker"]);
        Assert.Equal($"environment {_prefix}DELTA__TOPKFRACTION", bySource["delta:topKFraction"]);
        Assert.Equal($"file {file}", bySource["deviceId"]);
        Assert.StartsWith("Invalid device configuration:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("broker = 'foo:bar' (from --broker): is not host:port;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_daemon_reads_CL_DEVICE_variables() => Assert.Equal("CL_DEVICE_", DeviceOptionsReader.EnvironmentPrefix);

    [Fact]
    public void Valid_options_pass_the_validator_as_the_host_runs_it()
    {
        var valid = Valid();

        Assert.Same(valid, valid.Validate());
        Assert.True(DeviceOptionsValidator.Instance.Validate(null, valid).Succeeded);
    }

    [Theory]
    [InlineData("deviceId-empty", "deviceId", "is required")]
    [InlineData("deviceId-bad", "deviceId", "is not a valid id")]
    [InlineData("fleet-bad", "fleet", "is not a valid id")]
    [InlineData("modelName-empty", "modelName", "is required")]
    [InlineData("cohort-bad", "cohort", "is not a valid id")]
    [InlineData("broker-host", "broker", "has no host")]
    [InlineData("broker-port", "broker", "has a port outside 1–65535")]
    [InlineData("broker-ca", "broker:tlsCaFile", "does not exist")]
    [InlineData("broker-password", "broker:password", "is set without broker:username")]
    [InlineData("key-empty", "fleetPublicKey", "is required")]
    [InlineData("key-missing", "fleetPublicKey", "does not exist")]
    [InlineData("data-empty", "dataDirectory", "is empty")]
    [InlineData("bundle", "bundle", "has no manifest.json")]
    [InlineData("engine", "engine", "is unknown")]
    [InlineData("http-port", "http:port", "is outside 0–65535")]
    [InlineData("telemetry", "telemetryIntervalSeconds", "must be positive")]
    [InlineData("train-check", "trainCheckIntervalSeconds", "must be positive")]
    [InlineData("shutdown", "shutdownTimeoutSeconds", "must be positive")]
    [InlineData("ttl", "learning:sampleTtlMinutes", "must be positive")]
    [InlineData("topk", "delta:topKFraction", "is outside (0, 1]")]
    [InlineData("outbox-files", "delta:outboxMaxFiles", "must be at least 1")]
    [InlineData("outbox-bytes", "delta:outboxMaxBytes", "must be at least 1024")]
    [InlineData("accuracy-window", "learning:accuracyWindow", "must be at least 1")]
    [InlineData("replay-capacity", "learning:replayCapacity", "must be 0 (off) or more")]
    [InlineData("max-stored", "learning:maxStoredSamples", "must be at least 1")]
    [InlineData("challenger", "learning:minSamples", "must be at least 2")]
    [InlineData("clustering-model", "modelName", "is a cluster model's name")]
    [InlineData("gpio-no-pins", "gpio:enabled", "is on but neither gpio:ledPin nor gpio:buttonPin is set")]
    [InlineData("gpio-negative", "gpio", "has a negative pin number")]
    [InlineData("gpio-same", "gpio:buttonPin", "is the same pin as gpio:ledPin")]
    public void Every_rule_names_its_key_problem_and_fix(string rule, string key, string problem)
    {
        var broken = Break(Valid(), rule);

        var error = Assert.Single(Assert.Throws<ConfigurationException>(() => broken.Validate()).Errors);

        Assert.Equal(key, error.Key);
        Assert.Contains(problem, error.Problem, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
        Assert.True(DeviceOptionsValidator.Instance.Validate(null, broken).Failed);
    }

    [Fact]
    public void A_required_key_says_how_to_set_it_in_every_layer()
    {
        var error = Assert.Single(Assert.Throws<ConfigurationException>(() => (Valid() with { ModelName = "" }).Validate()).Errors);

        Assert.Equal("set \"modelName\" in the config file, CL_DEVICE_MODELNAME or the matching flag", error.Fix);
    }

    public void Dispose()
    {
        foreach (var name in _variables) Environment.SetEnvironmentVariable(name, null);
        Directory.Delete(_dir, recursive: true);
    }

    private DeviceOptions Valid() => new() { DeviceId = "pi-07", Fleet = "plant1", ModelName = "elec2", FleetPublicKeyPath = _key, DataDirectory = _dir };

    private DeviceOptions Break(DeviceOptions o, string rule) => rule switch
    {
        "deviceId-empty" => o with { DeviceId = "" },
        "deviceId-bad" => o with { DeviceId = "pi/07" },
        "fleet-bad" => o with { Fleet = "+" },
        "modelName-empty" => o with { ModelName = "" },
        "cohort-bad" => o with { Cohort = "$all" },
        "broker-host" => o with { Broker = o.Broker with { Host = " " } },
        "broker-port" => o with { Broker = o.Broker with { Port = 0 } },
        "broker-ca" => o with { Broker = o.Broker with { Tls = true, TlsCaFile = Path.Combine(_dir, "no-ca.pem") } },
        "broker-password" => o with { Broker = o.Broker with { Password = "secret" } },
        "key-empty" => o with { FleetPublicKeyPath = "" },
        "key-missing" => o with { FleetPublicKeyPath = Path.Combine(_dir, "missing.pub") },
        "data-empty" => o with { DataDirectory = " " },
        "bundle" => o with { InitialBundle = _dir },
        "engine" => o with { Engine = (EngineChoice)42 },
        "http-port" => o with { HttpPort = 70_000 },
        "telemetry" => o with { TelemetryInterval = TimeSpan.Zero },
        "train-check" => o with { TrainCheckInterval = TimeSpan.FromSeconds(-1) },
        "shutdown" => o with { ShutdownTimeout = TimeSpan.Zero },
        "ttl" => o with { SampleTtl = TimeSpan.Zero },
        "topk" => o with { Delta = o.Delta with { TopKFraction = 1.5 } },
        "outbox-files" => o with { Delta = o.Delta with { OutboxMaxFiles = 0 } },
        "outbox-bytes" => o with { Delta = o.Delta with { OutboxMaxBytes = 1000 } },
        "accuracy-window" => o with { AccuracyWindow = 0 },
        "replay-capacity" => o with { ReplayCapacity = -1 },
        "max-stored" => o with { MaxStoredSamples = 0 },
        "challenger" => o with { Challenger = o.Challenger with { MinSamples = 1 } },
        "clustering-model" => o with { Clustering = true, ModelName = "elec2.c3" },
        "gpio-no-pins" => o with { Gpio = new GpioOptions { Enabled = true } },
        "gpio-negative" => o with { Gpio = new GpioOptions { Enabled = true, LedPin = -1 } },
        "gpio-same" => o with { Gpio = new GpioOptions { Enabled = true, LedPin = 17, ButtonPin = 17 } },
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "no such rule in this test"),
    };

    private void SetEnvironment(string name, string value)
    {
        _variables.Add(_prefix + name);
        Environment.SetEnvironmentVariable(_prefix + name, value);
    }

    private string Touch(string name)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "");
        return path;
    }

    private string WriteJson(Dictionary<string, object> values)
    {
        var path = Path.Combine(_dir, "device.json");
        File.WriteAllText(path, JsonSerializer.Serialize(values));
        return path;
    }
}
