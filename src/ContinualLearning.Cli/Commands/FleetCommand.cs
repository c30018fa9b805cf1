using System.Collections.Concurrent;
using System.CommandLine;
using System.Text.Json;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using Command = System.CommandLine.Command;
using FleetCommandMessage = ContinualLearning.Fleet.Messages.Command;
using ContinualLearning.Fleet.Topics;
using Spectre.Console;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl fleet ls` (devices from retained status + live telemetry) and `cl device cmd` (request/reply).</summary>
internal static class FleetCommand
{
    public static Command Build()
    {
        var fleetCommand = new Command("fleet", "Devices of a fleet, as the broker sees them.");
        var broker = CliCommon.BrokerOption();
        var fleet = CliCommon.FleetOption();
        var json = CliCommon.JsonOption();
        var window = new Option<double>("--window")
        {
            Description = "Seconds to listen: retained status arrives at once, telemetry only as devices send it.",
            DefaultValueFactory = _ => 3,
        };
        var ls = new Command("ls", "List devices: state, model version, cohort, last seen, reported accuracy.") { broker, fleet, json, window };
        var credentials = CliCommon.CredentialOptions();
        credentials.AddTo(ls);
        ls.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            var f = FleetTopics.Id(pr.GetValue(fleet)!, "fleet");
            var statuses = new ConcurrentDictionary<string, DeviceStatus>(StringComparer.Ordinal);
            var telemetry = new ConcurrentDictionary<string, Telemetry>(StringComparer.Ordinal);
            await using var client = CliCommon.Client(pr.GetValue(broker)!, "cl-fleet", credentials.Read(pr));
            client.MessageReceived += m =>
            {
                var topic = FleetTopics.TryParse(m.Topic);
                if (topic?.DeviceId is null || m.Payload.Length == 0) return Task.CompletedTask;
                try
                {
                    if (topic.Kind == FleetTopicKind.DeviceStatus) statuses[topic.DeviceId] = FleetJson.ReadStatus(m.Payload);
                    else if (topic.Kind == FleetTopicKind.DeviceTelemetry) telemetry[topic.DeviceId] = FleetJson.ReadTelemetry(m.Payload);
                }
                catch (FleetMessageException ex)
                {
                    Console.Error.WriteLine($"warning: ignoring {m.Topic}: {ex.Message}");
                }
                return Task.CompletedTask;
            };
            await client.SubscribeAsync(FleetTopics.AllDevices(f, FleetTopicKind.DeviceStatus), cancellationToken: ct);
            await client.SubscribeAsync(FleetTopics.AllDevices(f, FleetTopicKind.DeviceTelemetry), cancellationToken: ct);
            await CliCommon.ConnectAsync(client, pr.GetValue(broker)!, ct);
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(0.2, pr.GetValue(window))), ct);

            var rows = statuses.Keys.Union(telemetry.Keys).Order(StringComparer.Ordinal).Select(id =>
            {
                statuses.TryGetValue(id, out var s);
                telemetry.TryGetValue(id, out var t);
                var lastSeen = new[] { s?.Timestamp, t?.Timestamp }.Max();
                return new
                {
                    DeviceId = id,
                    State = s is null ? "unknown" : s.State == DeviceState.Online ? "online" : "offline",
                    ModelVersion = t?.ModelVersion ?? s?.ModelVersion,
                    Cohort = s?.Cohort,
                    LastSeen = lastSeen,
                    Accuracy = t?.Accuracy,
                    Drift = t?.Drift.ToString().ToLowerInvariant(),
                    Paused = s?.Paused,
                };
            }).ToArray();
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, CliCommon.Json));
                return 0;
            }
            if (rows.Length == 0)
            {
                Console.WriteLine($"No devices of fleet '{f}' seen within {pr.GetValue(window)} s (no retained status on cl/{f}/device/+/status).");
                return 0;
            }
            var table = new Table().AddColumns("Device", "State", "Version", "Cohort", "Last seen (UTC)", "Accuracy", "Drift");
            foreach (var r in rows)
                table.AddRow(Markup.Escape(r.DeviceId), r.State == "online" ? "[green]online[/]" : r.State, r.ModelVersion ?? "-", r.Cohort ?? "-",
                    r.LastSeen?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss") ?? "-", r.Accuracy?.ToString("F3") ?? "-", r.Drift ?? "-");
            AnsiConsole.Write(table);
            Console.WriteLine($"{rows.Count(r => r.State == "online")} online of {rows.Length}");
            return 0;
        }));
        fleetCommand.Subcommands.Add(ls);
        return fleetCommand;
    }

    /// <summary>`cl device` group holding `cmd`; the device daemon's commands (e.g. `run`) join it when merged.</summary>
    public static Command BuildDevice()
    {
        var device = new Command("device", "One device: send it commands.");
        device.Subcommands.Add(DeviceCmd());
        return device;
    }

    /// <summary>Environment variable naming the operator private key when --operator-key is not given.</summary>
    public const string OperatorKeyVariable = "CL_OPERATOR_KEY";

    /// <summary>
    /// `cl device cmd ID KIND [key=value ...]`: signs a command with the operator key, sends it and waits for the reply on
    /// the device's reply topic (matched by correlation data).
    /// </summary>
    public static Command DeviceCmd()
    {
        var broker = CliCommon.BrokerOption();
        var fleet = CliCommon.FleetOption();
        var json = CliCommon.JsonOption();
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the reply.", DefaultValueFactory = _ => 10 };
        var id = new Argument<string>("id") { Description = "Device id." };
        var kind = new Argument<string>("command") { Description = "train-now | rollback | pause | resume | wipe-data | set-config | report" };
        var args = new Argument<string[]>("args") { Description = "Arguments as key=value (e.g. version=1.3.0, trigger=drift).", Arity = ArgumentArity.ZeroOrMore };
        var operatorKey = new Option<string?>("--operator-key")
        {
            Description = $"Operator private key (PEM, from `cl keys new`) that signs the command; default ${OperatorKeyVariable}. Devices run only commands signed by a key in their commands:operatorKeys.",
        };
        var lifetime = new Option<double>("--lifetime") { Description = "Seconds the command stays valid (devices accept at most their commands:maxLifetimeSeconds, 600 by default).", DefaultValueFactory = _ => 60 };
        var cmd = new Command("cmd", "Send a signed command to a device and wait for its reply.") { broker, fleet, json, timeout, id, kind, args, operatorKey, lifetime };
        var credentials = CliCommon.CredentialOptions();
        credentials.AddTo(cmd);
        cmd.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            var f = FleetTopics.Id(pr.GetValue(fleet)!, "fleet");
            var deviceId = FleetTopics.Id(pr.GetValue(id)!, "device id");
            var commandKind = ParseKind(pr.GetValue(kind)!);
            var arguments = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var a in pr.GetValue(args) ?? [])
            {
                var eq = a.IndexOf('=');
                if (eq <= 0) throw new CliException($"Argument '{a}' is not key=value (e.g. version=1.3.0).");
                arguments[a[..eq]] = a[(eq + 1)..];
            }
            var keyPath = pr.GetValue(operatorKey) ?? Environment.GetEnvironmentVariable(OperatorKeyVariable)
                ?? throw new CliException($"No operator key: pass --operator-key <operator.key> or set {OperatorKeyVariable}. Devices refuse unsigned commands; make a key pair with `cl keys new` and list its public key in the devices' commands:operatorKeys.");
            if (pr.GetValue(lifetime) is not (> 0 and <= 86_400) and var seconds)
                throw new CliException($"--lifetime {seconds} is outside (0, 86400] seconds; use e.g. 60 (devices accept at most their commands:maxLifetimeSeconds).");
            FleetCommandMessage command;
            using (var key = ReleaseKeys.LoadPrivate(keyPath))
            {
                command = CommandSigner.Sign(
                    new FleetCommandMessage { CommandId = Guid.NewGuid().ToString("N"), Kind = commandKind, Args = arguments.Count == 0 ? null : arguments },
                    key, f, deviceId, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(pr.GetValue(lifetime)));
            }
            await using var client = CliCommon.Client(pr.GetValue(broker)!, "cl-cmd", credentials.Read(pr));
            await CliCommon.ConnectAsync(client, pr.GetValue(broker)!, ct);
            FleetMessage reply;
            try
            {
                // The device answers on its own reply topic whatever response topic is named; naming it here subscribes there.
                reply = await client.RequestAsync(FleetTopics.Command(f, deviceId), FleetJson.Serialize(command),
                    FleetTopics.CommandReply(f, deviceId), TimeSpan.FromSeconds(pr.GetValue(timeout)), ct);
            }
            catch (TimeoutException)
            {
                // The protocol's message names topics; the operator needs the device and the checks to run.
                throw new CliException($"Device '{deviceId}' of fleet '{f}' did not reply to '{pr.GetValue(kind)}' within {pr.GetValue(timeout):0.#} s. " +
                    $"Check that it is online (`cl fleet ls --fleet {f} --broker {pr.GetValue(broker)}`), that --fleet and the device id are right, " +
                    "or raise --timeout if it is busy training.");
            }
            var r = FleetJson.ReadCommandReply(reply.Payload);
            if (pr.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(r, CliCommon.Json));
            else Console.WriteLine($"{r.DeviceId}: {(r.Ok ? "ok" : "FAILED")} {r.Message}{(r.Data is { Count: > 0 } d ? " " + string.Join(" ", d.Select(kv => $"{kv.Key}={kv.Value}")) : "")}");
            return r.Ok ? 0 : 2;
        }));
        return cmd;
    }

    private static CommandKind ParseKind(string text)
    {
        foreach (var kind in Enum.GetValues<CommandKind>())
        {
            var wire = JsonSerializer.Serialize(kind, FleetJsonContext.Default.CommandKind).Trim('"');
            if (string.Equals(wire, text, StringComparison.OrdinalIgnoreCase)) return kind;
        }
        throw new CliException($"Unknown command '{text}'; use train-now, rollback, pause, resume, wipe-data, set-config or report.");
    }
}
