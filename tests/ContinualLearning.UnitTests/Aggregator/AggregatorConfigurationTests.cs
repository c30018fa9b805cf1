using System.CommandLine;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Configuration;
using ContinualLearning.Aggregator.Optimizers;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Cli.Commands;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.UnitTests.Cli;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The aggregator reads its options as the device does: file → CL_AGGREGATOR_* → flags, every documented key, every
/// problem at once with its source; <see cref="AggregatorOptions.Validate"/> holds options built in code to the same rules.
/// </summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed class AggregatorConfigurationTests : IDisposable
{
    /// <summary>The example aggregator.json of docs/aggregator.md (the first JSON block), so the documentation cannot drift.</summary>
    private static readonly string DocumentedExample = ReadDocumentedExample();

    private readonly string _dir = Directory.CreateTempSubdirectory("cl-aggregator-config-").FullName;
    private readonly string _prefix = $"CL_TEST_{Guid.NewGuid():N}_";
    private readonly List<string> _variables = [];
    private readonly string _key;

    public AggregatorConfigurationTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "keys"));
        _key = Path.Combine(_dir, "keys", "release.key");
        File.WriteAllText(_key, "placeholder");
        File.WriteAllText(Path.Combine(_dir, "holdout.csv"), "x,class\n1,a\n");
    }

    [Fact]
    public void Reads_the_documented_example_with_paths_relative_to_the_file()
    {
        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(DocumentedExample), environmentPrefix: null));

        Assert.Equal(("plant1", "elec2", Path.Combine(_dir, "reg"), _key), (o.Fleet, o.ModelName, o.RegistryPath, o.PrivateKeyPath));
        Assert.Equal(("127.0.0.1", 1883, "aggregator-1", true, "aggregators"), (o.BrokerHost, o.BrokerPort, o.InstanceId, o.SharedSubscription, o.ShareGroup));
        Assert.Equal((4, (double?)10.0, NormClipMode.Reject), (o.Validation.MaxStaleness, o.Validation.MaxNorm, o.Validation.NormClipMode));
        Assert.Equal(["pi-01", "pi-02"], o.Validation.AllowedDevices!.Order(StringComparer.Ordinal));
        Assert.Equal((10, TimeSpan.FromMinutes(1), 1, StrategyKind.TrimmedMean), (o.Aggregation.BufferSize, o.Aggregation.MaxWait, o.Aggregation.MinDeltas, o.Aggregation.Strategy));
        Assert.Equal(new StrategyOptions { TrimFraction = 0.2, ClipNorm = 1.0 }, o.Aggregation.StrategyOptions);
        Assert.Equal((1.0, 0.5), (o.Aggregation.ServerLearningRate, o.Aggregation.StalenessAlpha));
        Assert.Equal((TimeSpan.FromMinutes(5), TimeSpan.FromDays(7)), (o.Validation.MaxClockSkew, o.Validation.MaxDeltaAge));
        Assert.Equal((8, 2), (o.Validation.MaxNewClasses, o.Aggregation.NewClassMinDevices));
        Assert.Equal((10_000L, 2, 1_000, 20, 2),
            (o.Aggregation.MaxSamplesPerDelta, o.Aggregation.MinDevices, o.Aggregation.MaxPending, o.Aggregation.MaxPendingPerDevice, o.Rollout.MinDevices));
        Assert.Equal((true, 0.1, (IReadOnlyList<string>?)null, 0.02, TimeSpan.FromMinutes(10), 3, 65536),
            (o.Rollout.Canary, o.Rollout.CanaryFraction, o.Rollout.CanaryDevices, o.Rollout.AccuracyMargin, o.Rollout.Window, o.Rollout.MinReports, o.Rollout.ChunkSize));
        Assert.Equal((Path.Combine(_dir, "holdout.csv"), "class", 0.01), (o.Holdout!.CsvPath, o.Holdout.LabelColumn, o.Holdout.Margin));
        Assert.Equal(TimeSpan.FromSeconds(1), o.Tick);
        Assert.Equal((256, TimeSpan.FromMilliseconds(2)), (o.Inbox.BatchMax, o.Inbox.BatchLinger));
    }

    [Fact]
    public void Reads_krum_and_the_server_optimizer_and_a_krum_fleet_with_enough_devices_is_valid()
    {
        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("""
            "aggregation": { "strategy": "multi-krum", "minDevices": 5, "strategyOptions": { "byzantineDevices": 1, "multiKrumKeep": 3 },
                             "serverOptimizer": "fed-yogi", "serverOptimizerOptions": { "beta1": 0.8, "beta2": 0.95, "tau": 0.01 } }
            """)), environmentPrefix: null));

        Assert.Equal((StrategyKind.MultiKrum, 5, 1, 3), (o.Aggregation.Strategy, o.Aggregation.MinDevices, o.Aggregation.StrategyOptions.ByzantineDevices, o.Aggregation.StrategyOptions.MultiKrumKeep));
        Assert.Equal(new ServerOptimizerOptions { Kind = ServerOptimizerKind.FedYogi, Beta1 = 0.8, Beta2 = 0.95, Tau = 0.01 }, o.Aggregation.ServerOptimizer);
        Assert.Equal(ServerOptimizerKind.Sgd, new AggregationOptions().ServerOptimizer.Kind);
    }

    [Fact]
    public void Unset_keys_keep_the_defaults_and_a_null_maxNorm_turns_the_norm_check_off()
    {
        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("\"validation\": { \"maxNorm\": null }, \"Tick\": \"00:00:00.250\"")), environmentPrefix: null));

        Assert.Null(o.Validation.MaxNorm);
        Assert.Null(o.Holdout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), o.Tick);
        var defaults = new AggregatorOptions { Fleet = "f", ModelName = "m", RegistryPath = "r", PrivateKeyPath = "k" };
        Assert.Equal((defaults.Aggregation, defaults.Rollout, defaults.BrokerHost, defaults.InstanceId), (o.Aggregation, o.Rollout, o.BrokerHost, o.InstanceId));
        Assert.Equal(10.0, AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("")), environmentPrefix: null)).Validation.MaxNorm);
    }

    [Fact]
    public void Environment_overrides_the_file_and_flags_override_the_environment()
    {
        SetEnvironment("AGGREGATION__BUFFERSIZE", "20");
        SetEnvironment("AGGREGATION__STRATEGY", "median");
        SetEnvironment("AGGREGATION__MINDEVICES", "3");
        SetEnvironment("AGGREGATION__MAXSAMPLESPERDELTA", "500");
        SetEnvironment("VALIDATION__MAXCLOCKSKEW", "00:00:30");
        SetEnvironment("ROLLOUT__MINDEVICES", "4");
        SetEnvironment("INSTANCEID", "from-env");
        SetEnvironment("ROLLOUT__CANARYDEVICES__0", "pi-09");
        SetEnvironment("REGISTRYPATH", "env-reg");
        var flags = new ConfigurationFlags().Set("instanceId", "--instance-id", "from-flag");

        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(DocumentedExample), flags, _prefix));

        Assert.Equal((20, StrategyKind.Median, "from-flag"), (o.Aggregation.BufferSize, o.Aggregation.Strategy, o.InstanceId));
        Assert.Equal((3, 500L, TimeSpan.FromSeconds(30), 4), (o.Aggregation.MinDevices, o.Aggregation.MaxSamplesPerDelta, o.Validation.MaxClockSkew, o.Rollout.MinDevices));
        Assert.Equal(["pi-09"], o.Rollout.CanaryDevices!);
        // Not from the file, so relative to the working directory.
        Assert.Equal(Path.GetFullPath("env-reg"), o.RegistryPath);
        Assert.Equal(4, o.Validation.MaxStaleness);
    }

    [Fact]
    public void Reports_every_problem_at_once_with_its_source()
    {
        SetEnvironment("AGGREGATION__MAXWAIT", "60");
        var file = Write("""
            { "modelName": "elec2", "registryPath": "reg", "privateKeyPath": "keys/missing.key", "brokerPort": "x",
              "aggregation": { "strategy": "bulyan", "bufferSize": 0 }, "rollout": { "canaryFraction": 2 } }
            """);
        var flags = new ConfigurationFlags().Set("fleet", "--fleet", "a/b");

        var ex = Assert.Throws<ConfigurationException>(() => AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(file, flags, _prefix)));

        var byKey = ex.Errors.ToDictionary(e => e.Key);
        Assert.Equal(("60", "is not a duration", $"environment {_prefix}AGGREGATION__MAXWAIT"), (byKey["aggregation:maxWait"].Value, byKey["aggregation:maxWait"].Problem, byKey["aggregation:maxWait"].Source));
        Assert.Equal(("bulyan", "use one of: fed-avg, trimmed-mean, median, norm-clip, krum, multi-krum"), (byKey["aggregation:strategy"].Value, byKey["aggregation:strategy"].Fix));
        Assert.Equal("x", byKey["brokerPort"].Value);
        Assert.Equal(("0", "must be ≥ 1"), (byKey["aggregation:bufferSize"].Value, byKey["aggregation:bufferSize"].Problem));
        Assert.Equal(("is not a valid id", "--fleet"), (byKey["fleet"].Problem, byKey["fleet"].Source));
        Assert.Equal((Path.Combine(_dir, "keys", "missing.key"), "does not exist"), (byKey["privateKeyPath"].Value, byKey["privateKeyPath"].Problem));
        Assert.Equal("must be in [0, 1]", byKey["rollout:canaryFraction"].Problem);
        Assert.StartsWith("Invalid aggregator configuration:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_file_the_required_keys_say_how_to_set_them()
    {
        var ex = Assert.Throws<ConfigurationException>(() => AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(null, environmentPrefix: null)));

        Assert.Equal(["fleet", "modelName", "registryPath", "privateKeyPath"], ex.Errors.Select(e => e.Key));
        Assert.Equal("set \"fleet\" in the config file, CL_AGGREGATOR_FLEET or --fleet", ex.Errors[0].Fix);
        Assert.All(ex.Errors, e => Assert.Equal("is required", e.Problem));
    }

    [Theory]
    [InlineData("registry", "registryPath", "is required")]
    [InlineData("key-missing", "privateKeyPath", "does not exist")]
    [InlineData("broker-host", "brokerHost", "is empty")]
    [InlineData("broker-port", "brokerPort", "is outside 1–65535")]
    [InlineData("instance", "instanceId", "is empty")]
    [InlineData("share-group", "shareGroup", "is not a valid id")]
    [InlineData("tick", "tick", "must be positive")]
    [InlineData("staleness", "validation:maxStaleness", "must be ≥ 0")]
    [InlineData("max-norm", "validation:maxNorm", "must be > 0")]
    [InlineData("clip-mode", "validation:normClipMode", "is unknown")]
    [InlineData("buffer", "aggregation:bufferSize", "must be ≥ 1")]
    [InlineData("min-deltas", "aggregation:minDeltas", "must be ≥ 1")]
    [InlineData("max-wait", "aggregation:maxWait", "must be positive")]
    [InlineData("strategy", "aggregation:strategy", "is unknown")]
    [InlineData("server-lr", "aggregation:serverLearningRate", "must be a finite number > 0")]
    [InlineData("alpha", "aggregation:stalenessAlpha", "must be ≥ 0")]
    [InlineData("trim", "aggregation:strategyOptions:trimFraction", "must be in [0, 0.5)")]
    [InlineData("clip-norm", "aggregation:strategyOptions:clipNorm", "must be > 0")]
    [InlineData("byzantine", "aggregation:strategyOptions:byzantineDevices", "must be ≥ 0")]
    [InlineData("multi-krum-keep", "aggregation:strategyOptions:multiKrumKeep", "must be ≥ 0")]
    [InlineData("krum-devices", "aggregation:minDevices", "is below 2f + 3 = 7, the fewest devices multi-krum tolerates f = 2 Byzantine devices with")]
    [InlineData("server-optimizer", "aggregation:serverOptimizer", "is unknown")]
    [InlineData("beta1", "aggregation:serverOptimizerOptions:beta1", "must be in [0, 1)")]
    [InlineData("beta2", "aggregation:serverOptimizerOptions:beta2", "must be in [0, 1)")]
    [InlineData("tau", "aggregation:serverOptimizerOptions:tau", "must be a finite number > 0")]
    [InlineData("canary-fraction", "rollout:canaryFraction", "must be in [0, 1]")]
    [InlineData("canary-margin", "rollout:accuracyMargin", "must be a finite number")]
    [InlineData("window", "rollout:window", "must be positive")]
    [InlineData("min-reports", "rollout:minReports", "must be ≥ 1")]
    [InlineData("chunk", "rollout:chunkSize", "must be > 0")]
    [InlineData("clock-skew", "validation:maxClockSkew", "must be ≥ 0")]
    [InlineData("delta-age", "validation:maxDeltaAge", "must be positive")]
    [InlineData("sample-cap", "aggregation:maxSamplesPerDelta", "must be ≥ 1")]
    [InlineData("min-devices", "aggregation:minDevices", "must be ≥ 1")]
    [InlineData("max-pending", "aggregation:maxPending", "must be ≥ aggregation:bufferSize (10)")]
    [InlineData("device-quota", "aggregation:maxPendingPerDevice", "must be ≥ 1")]
    [InlineData("new-class-devices", "aggregation:newClassMinDevices", "must be ≥ 1")]
    [InlineData("new-classes", "validation:maxNewClasses", "must be in [0, 1024]")]
    [InlineData("canary-devices", "rollout:minDevices", "must be ≥ 1")]
    [InlineData("holdout-csv", "holdout:csvPath", "does not exist")]
    [InlineData("holdout-none", "holdout:csvPath", "is required when a holdout section is given")]
    [InlineData("holdout-label", "holdout:labelColumn", "is empty")]
    [InlineData("holdout-margin", "holdout:margin", "must be a number ≥ 0")]
    [InlineData("metrics-listen", "metrics:listen", "is not address:port")]
    [InlineData("console-listen", "console:listen", "is not address:port")]
    [InlineData("console-public", "console:listen", "is not a loopback address and no TLS is configured: operator tokens would cross the network in clear")]
    [InlineData("console-tokens", "console:operatorTokenFile", "does not exist")]
    [InlineData("console-tls-half", "console:tls", "needs both certificate and key")]
    [InlineData("console-client-ca", "console:clientCa", "needs HTTPS (client certificates travel in the TLS handshake)")]
    [InlineData("console-queue", "console:eventQueueLength", "must be between 1 and 100000")]
    [InlineData("batch-max", "inbox:batchMax", "must be between 1 and 16383")]
    [InlineData("batch-linger", "inbox:batchLinger", "must be between 00:00:00 and 00:00:01 (every delta of a batch waits up to this long for its acknowledgement)")]
    public void Every_rule_names_its_key_problem_and_fix(string rule, string key, string problem)
    {
        var broken = Break(Valid(), rule);

        var error = Assert.Single(Assert.Throws<ConfigurationException>(broken.Validate).Errors);

        Assert.Equal((key, problem), (error.Key, error.Problem));
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }

    [Fact]
    public void Options_built_in_code_report_every_broken_rule_at_once()
    {
        var broken = Valid() with { Fleet = "a/b", Aggregation = new AggregationOptions { BufferSize = 0, MinDeltas = 0 } };

        Assert.Equal(["fleet", "aggregation:bufferSize", "aggregation:minDeltas"], Assert.Throws<ConfigurationException>(broken.Validate).Errors.Select(e => e.Key));
        Assert.True(AggregatorOptionsReader.Validator.Validate(null, broken).Failed);
        Assert.True(AggregatorOptionsReader.Validator.Validate(null, Valid()).Succeeded);
    }

    [Fact]
    public async Task The_command_prints_every_problem_and_exits_with_2()
    {
        var (exit, stderr) = await RunAsync("aggregator", "run", "--config", Write(Minimal("")), "--broker", "host:port", "--fleet", "a/b");

        Assert.Equal(2, exit);
        Assert.StartsWith("Invalid aggregator configuration:", stderr, StringComparison.Ordinal);
        Assert.Contains("brokerHost = 'host:port' (from --broker): is not host:port", stderr, StringComparison.Ordinal);

        (exit, stderr) = await RunAsync("aggregator", "run", "--config", Write(Minimal("")), "--fleet", "a/b", "--broker", "b.local:1884");
        Assert.Equal(2, exit);
        Assert.Contains("fleet = 'a/b' (from --fleet): is not a valid id", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("broker", stderr, StringComparison.Ordinal);

        (exit, stderr) = await RunAsync("aggregator", "run", "--config", Path.Combine(_dir, "missing.json"));
        Assert.Equal(2, exit);
        Assert.Contains("--config = '", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_listen_comes_from_file_environment_or_flag_and_a_bad_one_is_named()
    {
        Assert.Null(AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("")), environmentPrefix: null)).Metrics.Listen);
        var file = Write(Minimal("\"metrics\": { \"listen\": \"127.0.0.1:9464\" }"));
        Assert.Equal("127.0.0.1:9464", AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(file, environmentPrefix: null)).Metrics.Listen);
        SetEnvironment("METRICS__LISTEN", "0.0.0.0:9465");
        Assert.Equal("0.0.0.0:9465", AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(file, environmentPrefix: _prefix)).Metrics.Listen);

        var (exit, stderr) = await RunAsync("aggregator", "run", "--config", file, "--metrics-listen", "nowhere:port");

        Assert.Equal(2, exit);
        Assert.Contains("metrics:listen = 'nowhere:port' (from --metrics-listen): is not address:port", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Console_keys_come_from_file_or_environment_with_paths_relative_to_the_file_and_a_public_address_needs_tls()
    {
        File.WriteAllText(Path.Combine(_dir, "operators"), "");
        var file = Write(Minimal("\"console\": { \"listen\": \"127.0.0.1:8480\", \"operatorTokenFile\": \"operators\", \"rolloutSampleInterval\": \"00:00:05\" }"));
        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(file, environmentPrefix: null)).Console;
        Assert.Equal(("127.0.0.1:8480", Path.Combine(_dir, "operators"), TimeSpan.FromSeconds(5), false), (o.Listen, o.OperatorTokenFile, o.RolloutSampleInterval, o.AllowPlainHttp));
        SetEnvironment("CONSOLE__ALLOWPLAINHTTP", "true");
        SetEnvironment("CONSOLE__LISTEN", "0.0.0.0:8481");
        o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(file, environmentPrefix: _prefix)).Console;
        Assert.Equal(("0.0.0.0:8481", true), (o.Listen, o.AllowPlainHttp));

        var (exit, stderr) = await RunAsync("aggregator", "run", "--config", Write(Minimal("")), "--console", "0.0.0.0:8480");

        Assert.Equal(2, exit);
        Assert.Contains("console:listen = '0.0.0.0:8480' (from --console): is not a loopback address", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:9464", "127.0.0.1:9464")]
    [InlineData("0.0.0.0:0", "0.0.0.0:0")]
    [InlineData("[::1]:9464", "[::1]:9464")]
    [InlineData("localhost:9464", "127.0.0.1:9464")]
    [InlineData("::1:9464", null)]
    [InlineData("host.example:9464", null)]
    [InlineData("127.0.0.1:65536", null)]
    [InlineData("127.0.0.1:-1", null)]
    [InlineData("127.0.0.1", null)]
    [InlineData(":9464", null)]
    public void Metrics_listen_takes_an_address_and_a_port(string text, string? endpoint) =>
        Assert.Equal(endpoint, MetricsOptions.TryParseListen(text, out var parsed) ? parsed.ToString() : null);

    [Fact]
    public void The_broker_flag_sets_host_and_port()
    {
        var flags = new ConfigurationFlags();
        AggregatorCommand.SetBroker(flags, "--broker", "b.local:1884");

        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("")), flags, environmentPrefix: null));

        Assert.Equal(("b.local", 1884), (o.BrokerHost, o.BrokerPort));
        Assert.Equal("CL_AGGREGATOR_", AggregatorOptionsReader.EnvironmentPrefix);
    }

    [Fact]
    public void The_registry_connection_string_comes_from_the_environment_and_selects_postgres()
    {
        SetEnvironment("REGISTRY__CONNECTIONSTRING", "Host=db1,db2;Database=cl;Username=cl;Target Session Attributes=read-write");

        var o = AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("")), environmentPrefix: _prefix));

        Assert.Equal("Host=db1,db2;Database=cl;Username=cl;Target Session Attributes=read-write", o.RegistryConnectionString);
        Assert.IsType<RegistryLocation>(o.RegistryLocation, exactMatch: false);
        Assert.Contains("PostgreSQL", o.RegistryLocation.Describe(), StringComparison.Ordinal);
        Assert.Equal(Path.Combine(_dir, "reg"), o.RegistryLocation.Directory);
        Assert.Contains("SQLite", AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(Write(Minimal("")), environmentPrefix: null)).RegistryLocation.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Attack_a_bad_registry_connection_string_is_refused_without_echoing_its_password()
    {
        const string secret = "hunter2-registry-secret";
        var file = Write(Minimal($$"""
            "registry": { "connectionString": "Password={{secret}};Database=cl;Nonsense Keyword=1" }
            """));

        var ex = Assert.Throws<ConfigurationException>(() => AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(file, environmentPrefix: null)));

        var error = Assert.Single(ex.Errors, e => e.Key == "registry:connectionString");
        Assert.Contains("not a valid connection string", error.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error.Value ?? "", StringComparison.Ordinal);
        // Valid syntax but no host: named as such, still without the value.
        var noHost = Write(Minimal($$"""
            "registry": { "connectionString": "Password={{secret}};Database=cl" }
            """));
        var missing = Assert.Throws<ConfigurationException>(() => AggregatorOptionsReader.Read(AggregatorOptionsReader.Build(noHost, environmentPrefix: null)));
        Assert.Equal("names no Host", Assert.Single(missing.Errors, e => e.Key == "registry:connectionString").Problem);
        Assert.DoesNotContain(secret, missing.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, RegistryLocation.Postgres($"Host=x;Password={secret}", _dir).ToString(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var name in _variables) Environment.SetEnvironmentVariable(name, null);
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Runs `cl aggregator …` in-process with stderr captured (callers are in the console-capture collection).</summary>
    internal static async Task<(int Exit, string Stderr)> RunAsync(params string[] args)
    {
        var root = new RootCommand { AggregatorCommand.Build() };
        var stderr = new StringWriter();
        var oldErr = Console.Error;
        Console.SetError(stderr);
        try
        {
            var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Error = stderr });
            return (exit, stderr.ToString());
        }
        finally
        {
            Console.SetError(oldErr);
        }
    }

    private static string ReadDocumentedExample()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ContinualLearning.sln"))) dir = dir.Parent;
        var doc = File.ReadAllText(Path.Combine(dir?.FullName ?? throw new InvalidOperationException("ContinualLearning.sln not found above the test binaries."), "docs", "aggregator.md"));
        var start = doc.IndexOf("```json", StringComparison.Ordinal) + "```json".Length;
        return doc[start..doc.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private static string Minimal(string extra) =>
        $$"""{ "fleet": "plant1", "modelName": "elec2", "registryPath": "reg", "privateKeyPath": "keys/release.key"{{(extra.Length > 0 ? ", " + extra : "")}} }""";

    private AggregatorOptions Valid() => new() { Fleet = "plant1", ModelName = "elec2", RegistryPath = _dir, PrivateKeyPath = _key };

    private AggregatorOptions Break(AggregatorOptions o, string rule) => rule switch
    {
        "registry" => o with { RegistryPath = " " },
        "key-missing" => o with { PrivateKeyPath = Path.Combine(_dir, "none.key") },
        "broker-host" => o with { BrokerHost = "" },
        "broker-port" => o with { BrokerPort = 0 },
        "instance" => o with { InstanceId = " " },
        "share-group" => o with { SharedSubscription = true, ShareGroup = "a/b" },
        "tick" => o with { Tick = TimeSpan.Zero },
        "staleness" => o with { Validation = o.Validation with { MaxStaleness = -1 } },
        "max-norm" => o with { Validation = o.Validation with { MaxNorm = 0 } },
        "clip-mode" => o with { Validation = o.Validation with { NormClipMode = (NormClipMode)9 } },
        "buffer" => o with { Aggregation = o.Aggregation with { BufferSize = 0 } },
        "min-deltas" => o with { Aggregation = o.Aggregation with { MinDeltas = 0 } },
        "max-wait" => o with { Aggregation = o.Aggregation with { MaxWait = TimeSpan.Zero } },
        "strategy" => o with { Aggregation = o.Aggregation with { Strategy = (StrategyKind)99 } },
        "server-lr" => o with { Aggregation = o.Aggregation with { ServerLearningRate = double.PositiveInfinity } },
        "alpha" => o with { Aggregation = o.Aggregation with { StalenessAlpha = -0.5 } },
        "trim" => o with { Aggregation = o.Aggregation with { StrategyOptions = new StrategyOptions { TrimFraction = 0.5 } } },
        "clip-norm" => o with { Aggregation = o.Aggregation with { StrategyOptions = new StrategyOptions { ClipNorm = 0 } } },
        "byzantine" => o with { Aggregation = o.Aggregation with { StrategyOptions = new StrategyOptions { ByzantineDevices = -1 } } },
        "multi-krum-keep" => o with { Aggregation = o.Aggregation with { StrategyOptions = new StrategyOptions { MultiKrumKeep = -1 } } },
        "krum-devices" => o with { Aggregation = o.Aggregation with { Strategy = StrategyKind.MultiKrum, MinDevices = 6, StrategyOptions = new StrategyOptions { ByzantineDevices = 2 } } },
        "server-optimizer" => o with { Aggregation = o.Aggregation with { ServerOptimizer = new ServerOptimizerOptions { Kind = (ServerOptimizerKind)9 } } },
        "beta1" => o with { Aggregation = o.Aggregation with { ServerOptimizer = new ServerOptimizerOptions { Beta1 = 1 } } },
        "beta2" => o with { Aggregation = o.Aggregation with { ServerOptimizer = new ServerOptimizerOptions { Beta2 = -0.1 } } },
        "tau" => o with { Aggregation = o.Aggregation with { ServerOptimizer = new ServerOptimizerOptions { Tau = 0 } } },
        "canary-fraction" => o with { Rollout = o.Rollout with { CanaryFraction = -0.1 } },
        "canary-margin" => o with { Rollout = o.Rollout with { AccuracyMargin = double.NaN } },
        "window" => o with { Rollout = o.Rollout with { Window = TimeSpan.Zero } },
        "min-reports" => o with { Rollout = o.Rollout with { MinReports = 0 } },
        "chunk" => o with { Rollout = o.Rollout with { ChunkSize = 0 } },
        "clock-skew" => o with { Validation = o.Validation with { MaxClockSkew = TimeSpan.FromSeconds(-1) } },
        "delta-age" => o with { Validation = o.Validation with { MaxDeltaAge = TimeSpan.Zero } },
        "sample-cap" => o with { Aggregation = o.Aggregation with { MaxSamplesPerDelta = 0 } },
        "min-devices" => o with { Aggregation = o.Aggregation with { MinDevices = 0 } },
        "max-pending" => o with { Aggregation = o.Aggregation with { BufferSize = 10, MaxPending = 9 } },
        "device-quota" => o with { Aggregation = o.Aggregation with { MaxPendingPerDevice = 0 } },
        "new-class-devices" => o with { Aggregation = o.Aggregation with { NewClassMinDevices = 0 } },
        "new-classes" => o with { Validation = o.Validation with { MaxNewClasses = -1 } },
        "canary-devices" => o with { Rollout = o.Rollout with { MinDevices = 0 } },
        "holdout-csv" => o with { Holdout = new HoldoutOptions { CsvPath = Path.Combine(_dir, "none.csv") } },
        "holdout-none" => o with { Holdout = new HoldoutOptions() },
        "holdout-label" => o with { Holdout = new HoldoutOptions { CsvPath = Path.Combine(_dir, "holdout.csv"), LabelColumn = "" } },
        "holdout-margin" => o with { Holdout = new HoldoutOptions { CsvPath = Path.Combine(_dir, "holdout.csv"), Margin = -1 } },
        "metrics-listen" => o with { Metrics = new MetricsOptions { Listen = "localhost" } },
        "console-listen" => o with { Console = new() { Listen = "nowhere" } },
        "console-public" => o with { Console = new() { Listen = "0.0.0.0:8480" } },
        "console-tokens" => o with { Console = new() { Listen = "127.0.0.1:8480", OperatorTokenFile = Path.Combine(_dir, "none") } },
        "console-tls-half" => o with { Console = new() { TlsCertificate = Path.Combine(_dir, "holdout.csv") } },
        "console-client-ca" => o with { Console = new() { ClientCa = Path.Combine(_dir, "holdout.csv") } },
        "console-queue" => o with { Console = new() { EventQueueLength = 0 } },
        "batch-max" => o with { Inbox = o.Inbox with { BatchMax = 0 } },
        "batch-linger" => o with { Inbox = o.Inbox with { BatchLinger = TimeSpan.FromSeconds(2) } },
        _ => throw new ArgumentOutOfRangeException(nameof(rule), rule, "no such rule in this test"),
    };

    private void SetEnvironment(string name, string value)
    {
        _variables.Add(_prefix + name);
        Environment.SetEnvironmentVariable(_prefix + name, value);
    }

    private string Write(string json)
    {
        var path = Path.Combine(_dir, "aggregator.json");
        File.WriteAllText(path, json);
        return path;
    }
}
