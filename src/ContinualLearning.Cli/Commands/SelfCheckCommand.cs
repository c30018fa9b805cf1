using System.CommandLine;
using System.Globalization;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl selfcheck` (hidden): a short device-style workload that exercises every part a device needs — the training
/// engine on a drifting stream with replay from the transient SQLite store, champion/challenger promotion, the delta
/// codec, optionally ONNX Runtime and an MQTT publish — and prints `key=value` lines plus its own memory use.
/// It is what the emulated linux-arm64 check (.ci/arm64-e2e.sh) and the footprint measurements run; exit code 1
/// means a check failed.
/// </summary>
internal static class SelfCheckCommand
{
    public static Command Build()
    {
        var engine = new Option<string>("--engine") { Description = "Training engine: managed or torch.", DefaultValueFactory = _ => ManagedEngine.EngineName };
        var inputs = new Option<int>("--inputs") { Description = "Head input size (embedding width).", DefaultValueFactory = _ => 128 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden layer size.", DefaultValueFactory = _ => 256 };
        var classes = new Option<int>("--classes") { Description = "Number of classes.", DefaultValueFactory = _ => 10 };
        var samples = new Option<int>("--samples") { Description = "Stream length; the concept drifts half-way.", DefaultValueFactory = _ => 4000 };
        var round = new Option<int>("--round") { Description = "Samples per training round.", DefaultValueFactory = _ => 500 };
        var replay = new Option<int>("--replay") { Description = "Replay buffer capacity (samples).", DefaultValueFactory = _ => 10_000 };
        var storeDir = new Option<string?>("--store-dir") { Description = "Directory (tmpfs) for the transient SQLite store; default $RUNTIME_DIRECTORY or /dev/shm." };
        var onnx = new Option<bool>("--onnx") { Description = "Export the head to ONNX and run it with ONNX Runtime; compare with the engine." };
        var mqtt = new Option<string?>("--mqtt") { Description = "host:port of a broker: publish the encoded delta on cl/<fleet>/device/<id>/delta." };
        var deviceId = new Option<string>("--device-id") { Description = "Device id used in the delta header and topic.", DefaultValueFactory = _ => "selfcheck" };
        var fleet = new Option<string>("--fleet") { Description = "Fleet name used in the topic.", DefaultValueFactory = _ => "selfcheck" };
        var idle = new Option<double>("--hold-seconds") { Description = "Stay alive this long after the check (for outside RSS measurement).", DefaultValueFactory = _ => 0 };

        var command = new Command("selfcheck", "Run a short device workload (train on a drifting stream, replay, delta) and print results.")
        {
            Hidden = true,
        };
        foreach (var option in new Option[] { engine, inputs, hidden, classes, samples, round, replay, storeDir, onnx, mqtt, deviceId, fleet, idle })
            command.Options.Add(option);
        var credentials = CliCommon.CredentialOptions();
        credentials.AddTo(command);
        command.SetAction((parse, ct) => SelfCheckWorkload.RunAsync(new SelfCheckSettings(
            parse.GetValue(engine)!, parse.GetValue(inputs), parse.GetValue(hidden), parse.GetValue(classes),
            parse.GetValue(samples), parse.GetValue(round), parse.GetValue(replay), parse.GetValue(storeDir),
            parse.GetValue(onnx), parse.GetValue(mqtt), parse.GetValue(deviceId)!, parse.GetValue(fleet)!, parse.GetValue(idle), credentials.Read(parse)), ct));
        command.Subcommands.Add(SelfCheckReceiveCommand.Build());
        command.Subcommands.Add(SelfCheckKitCommand.Build());
        return command;
    }

    internal static (string Host, int Port) ParseBroker(string value)
    {
        var parts = value.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new ArgumentException($"Broker '{value}' is not host:port (e.g. 127.0.0.1:1883).");
        return (parts[0], port);
    }

    /// <summary>Prints one `key=value` result line (what the scripts that run selfcheck parse).</summary>
    internal static void Report(string key, object value) => Console.WriteLine($"{key}={value}");
}

/// <summary>The options of `cl selfcheck`.</summary>
internal sealed record SelfCheckSettings(
    string Engine, int Inputs, int Hidden, int Classes, int Samples, int Round, int Replay, string? StoreDir,
    bool Onnx, string? Mqtt, string DeviceId, string Fleet, double HoldSeconds, BrokerCredentials? Credentials = null);
