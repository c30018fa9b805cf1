using System.CommandLine;
using System.Text.Json;
using ContinualLearning.Cli.Commands;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Command = ContinualLearning.Fleet.Messages.Command;

namespace ContinualLearning.UnitTests.Cli;

/// <summary>
/// The fleet commands write to <see cref="Console"/>, which is process-wide; this collection runs alone so no other
/// test's output can land in the captured text.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCaptureCollection
{
    public const string Name = "console capture";
}

/// <summary>`cl fleet ls` and `cl device cmd` run in-process against a real embedded MQTT broker and fake devices.</summary>
[Collection(ConsoleCaptureCollection.Name)]
public sealed class FleetCommandTests : IAsyncLifetime
{
    /// <summary>Bounds a hang on a loaded box; never asserted as a speed.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly EmbeddedBroker _broker = new();
    private readonly List<FleetMqttClient> _clients = [];
    private readonly string _fleet = "t" + Guid.NewGuid().ToString("N")[..10];

    private readonly string _keys = Directory.CreateTempSubdirectory("cl-cmd-keys").FullName;
    private readonly System.Security.Cryptography.ECDsa _operator = ReleaseKeys.Generate();

    private string BrokerAddress => $"127.0.0.1:{_broker.Port}";

    private string OperatorKeyPath => Path.Combine(_keys, "operator.key");

    public async ValueTask InitializeAsync()
    {
        ReleaseKeys.Save(_operator, OperatorKeyPath, Path.Combine(_keys, "operator.pub"));
        await _broker.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _operator.Dispose();
        Directory.Delete(_keys, recursive: true);
        foreach (var c in _clients) await c.DisposeAsync();
        var errors = _broker.Errors;
        await _broker.DisposeAsync();
        Assert.True(errors.Count == 0, "The broker logged errors:\n" + string.Join("\n", errors));
    }

    private async Task<FleetMqttClient> DeviceAsync(string id)
    {
        var client = new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = $"{_fleet}-{id}",
            Port = _broker.Port,
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        });
        _clients.Add(client);
        await client.StartAsync();
        return client;
    }

    /// <summary>Builds the `fleet` and `device` groups as Program does and runs <paramref name="args"/> with stdout/stderr captured.</summary>
    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        var root = new RootCommand("test") { FleetCommand.Build(), FleetCommand.BuildDevice() };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }).WaitAsync(Patience);
            return (exit, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    [Fact]
    public async Task Fleet_ls_json_lists_devices_from_retained_status_and_telemetry()
    {
        var seen = DateTimeOffset.UtcNow;
        var alpha = await DeviceAsync("alpha");
        await alpha.PublishAsync(FleetTopics.Status(_fleet, "alpha"), FleetJson.Serialize(new DeviceStatus
        {
            DeviceId = "alpha", State = DeviceState.Online, ModelVersion = "1.2.0", Cohort = "canary", Timestamp = seen,
        }), retain: true);
        var beta = await DeviceAsync("beta");
        await beta.PublishAsync(FleetTopics.Status(_fleet, "beta"), FleetJson.Serialize(new DeviceStatus
        {
            DeviceId = "beta", State = DeviceState.Offline, ModelVersion = "1.1.0", Cohort = "stable", Timestamp = seen, Paused = true,
        }), retain: true);

        // Telemetry is not retained (as a real device sends it): alpha keeps sending it while `ls` listens.
        using var stop = new CancellationTokenSource();
        var telemetryLoop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await alpha.PublishAsync(FleetTopics.Telemetry(_fleet, "alpha"), FleetJson.Serialize(new Telemetry
                {
                    DeviceId = "alpha", ModelVersion = "1.3.0", Accuracy = 0.875, Drift = DriftState.Warning, Timestamp = DateTimeOffset.UtcNow,
                }), cancellationToken: stop.Token);
                await Task.Delay(100, stop.Token);
            }
        });

        (int exit, string output, string error) result;
        try
        {
            result = await RunAsync("fleet", "ls", "--broker", BrokerAddress, "--fleet", _fleet, "--json", "--window", "2");
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => telemetryLoop);
        }

        Assert.True(result.exit == 0, $"exit {result.exit}; stderr: {result.error}");
        using var doc = JsonDocument.Parse(result.output);
        var rows = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(["alpha", "beta"], rows.Select(r => r.GetProperty("deviceId").GetString()));

        var a = rows[0];
        Assert.Equal("online", a.GetProperty("state").GetString());
        Assert.Equal("1.3.0", a.GetProperty("modelVersion").GetString()); // telemetry's version wins over the status's
        Assert.Equal("canary", a.GetProperty("cohort").GetString());
        Assert.Equal(0.875, a.GetProperty("accuracy").GetDouble());
        Assert.Equal("warning", a.GetProperty("drift").GetString());
        Assert.True(a.GetProperty("lastSeen").GetDateTimeOffset() >= seen);

        var b = rows[1];
        Assert.Equal("offline", b.GetProperty("state").GetString());
        Assert.Equal("1.1.0", b.GetProperty("modelVersion").GetString());
        Assert.Equal("stable", b.GetProperty("cohort").GetString());
        Assert.Equal(JsonValueKind.Null, b.GetProperty("accuracy").ValueKind);
        Assert.True(b.GetProperty("paused").GetBoolean());
    }

    [Fact]
    public async Task Device_cmd_report_json_prints_the_reply_matched_by_correlation_data()
    {
        var device = await DeviceAsync("gamma");
        var cmdTopic = FleetTopics.Command(_fleet, "gamma");
        var received = new TaskCompletionSource<Command>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.MessageReceived += async m =>
        {
            if (m.Topic != cmdTopic) return;
            var command = FleetJson.ReadCommand(m.Payload);
            received.TrySetResult(command);
            await device.ReplyAsync(m, FleetJson.Serialize(new CommandReply
            {
                CommandId = command.CommandId,
                DeviceId = "gamma",
                Ok = true,
                Message = $"report for {command.Kind}",
                Data = new Dictionary<string, string> { ["samplesSeen"] = "1234", ["window"] = command.Args?["window"] ?? "none" },
                Timestamp = DateTimeOffset.UtcNow,
            }));
        };
        await device.SubscribeAsync(cmdTopic);

        var (exit, output, error) = await RunAsync("device", "cmd", "gamma", "report", "window=50", "--broker", BrokerAddress, "--fleet", _fleet, "--json", "--timeout", "15",
            "--operator-key", OperatorKeyPath);

        Assert.True(exit == 0, $"exit {exit}; stderr: {error}");
        var command = await received.Task.WaitAsync(Patience);
        Assert.Equal(CommandKind.Report, command.Kind);
        var trusted = new Dictionary<string, System.Security.Cryptography.ECDsa> { [ReleaseKeys.KeyId(_operator)] = _operator };
        var check = CommandSigner.Verify(command, trusted, _fleet, "gamma", DateTimeOffset.UtcNow, CommandLimits.Default);
        Assert.True(check.Ok, check.Reason);
        using var doc = JsonDocument.Parse(output);
        var reply = doc.RootElement;
        Assert.Equal(command.CommandId, reply.GetProperty("commandId").GetString());
        Assert.Equal("gamma", reply.GetProperty("deviceId").GetString());
        Assert.True(reply.GetProperty("ok").GetBoolean());
        Assert.Equal("report for Report", reply.GetProperty("message").GetString());
        Assert.Equal("1234", reply.GetProperty("data").GetProperty("samplesSeen").GetString());
        Assert.Equal("50", reply.GetProperty("data").GetProperty("window").GetString());
    }

    [Fact]
    public async Task Device_cmd_to_a_silent_device_exits_non_zero_naming_the_device_and_what_to_check()
    {
        var (exit, output, error) = await RunAsync("device", "cmd", "ghost", "report", "--broker", BrokerAddress, "--fleet", _fleet, "--timeout", "0.5",
            "--operator-key", OperatorKeyPath);

        Assert.NotEqual(0, exit);
        Assert.Equal("", output);
        Assert.Contains("ghost", error);
        Assert.Contains("fleet ls", error);
        Assert.Contains("--fleet", error);
    }

    [Fact]
    public async Task Device_cmd_without_an_operator_key_says_how_to_get_one()
    {
        var (exit, _, error) = await RunAsync("device", "cmd", "ghost", "report", "--broker", BrokerAddress, "--fleet", _fleet, "--timeout", "0.5");

        Assert.NotEqual(0, exit);
        Assert.Contains("--operator-key", error);
        Assert.Contains("commands:operatorKeys", error);
    }
}
