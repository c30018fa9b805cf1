using System.Globalization;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// Executes fleet commands. A command runs only when it is signed by a trusted operator key, addressed to this device
/// and inside its (bounded) validity window (<see cref="CommandSigner.Verify"/>); anything else is answered
/// <c>ok=false</c>, logged and counted. Each command id runs at most once, across restarts too
/// (<see cref="ExecutedCommands"/>, written before the command runs). The reply always goes to the device's own reply
/// topic with the request's correlation data — never to a response topic the sender names — and the status is
/// published afterwards, since most commands change it.
/// </summary>
internal sealed partial class CommandExecutor : IDisposable
{
    private readonly DeviceRuntime _runtime;
    private readonly RuntimeSettings _settings;
    private readonly IFleetConnection _connection;
    private readonly ReleaseInstaller _releases;
    private readonly DeltaPublisher _deltas;
    private readonly TelemetryReporter _reporter;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OperatorKeys _operators;
    private readonly ExecutedCommands _executed;
    private readonly string _replyTopic;
    private readonly Dictionary<CommandKind, Handler> _handlers;

    public CommandExecutor(DeviceRuntime runtime, RuntimeSettings settings, IFleetConnection connection, ReleaseInstaller releases,
        DeltaPublisher deltas, TelemetryReporter reporter, ILogger logger, TimeProvider time)
    {
        _runtime = runtime;
        _settings = settings;
        _connection = connection;
        _releases = releases;
        _deltas = deltas;
        _reporter = reporter;
        _logger = logger;
        _time = time;
        var o = runtime.Options;
        _operators = OperatorKeys.Load(o.Commands.OperatorKeyFiles);
        _executed = new ExecutedCommands(o.ExecutedCommandsPath, o.Commands.ClockSkew, time);
        _replyTopic = FleetTopics.CommandReply(o.Fleet, o.DeviceId);
        if (_operators.ById.Count == 0) LogNoOperatorKeys(logger);
        _handlers = new Dictionary<CommandKind, Handler>
        {
            [CommandKind.TrainNow] = TrainNowAsync,
            [CommandKind.Rollback] = (c, a, _) => Task.FromResult(Rollback(c, a)),
            [CommandKind.Pause] = (c, _, _) => Task.FromResult(Pause(c)),
            [CommandKind.Resume] = (c, _, _) => Task.FromResult(Resume(c)),
            [CommandKind.WipeData] = WipeDataAsync,
            [CommandKind.SetConfig] = SetConfigAsync,
            [CommandKind.Report] = ReportAsync,
        };
    }

    private delegate Task<CommandReply> Handler(Command command, IReadOnlyDictionary<string, string> args, CancellationToken stop);

    /// <summary>Handles a message on the device's command topic.</summary>
    public async Task HandleAsync(FleetMessage message, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(message);
        Command command;
        try
        {
            command = FleetJson.ReadCommand(message.Payload);
        }
        catch (FleetMessageException ex)
        {
            _runtime.Metrics.CountCommandRefused();
            await ReplyAsync(message, new CommandReply { CommandId = "?", DeviceId = _runtime.Options.DeviceId, Ok = false, Message = ex.Message, Timestamp = _time.GetUtcNow() }, stop).ConfigureAwait(false);
            return;
        }
        var o = _runtime.Options;
        var check = FleetTopics.IsValidId(command.CommandId)
            ? CommandSigner.Verify(command, _operators.ById, o.Fleet, o.DeviceId, _time.GetUtcNow(), o.Commands.Limits)
            : new CommandVerification(CommandRefusal.InvalidId, $"command id must be 1–{FleetTopics.MaxIdLength} characters without '/', '+', '#' or control characters");
        if (!check.Ok)
        {
            _runtime.Metrics.CountCommandRefused();
            var id = FleetTopics.IsValidId(command.CommandId) ? command.CommandId : "?";
            LogRefused(_logger, command.Kind, id, check.Refusal!.Value, check.Reason);
            await ReplyAsync(message, Reply(command with { CommandId = id }, false, "refused: " + check.Reason), stop).ConfigureAwait(false);
            return;
        }
        if (!_executed.TryRecord(command.CommandId, command.ExpiresAt!.Value))
        {
            LogDuplicate(_logger, command.CommandId);
            return;
        }
        var reply = await ExecuteAsync(command, stop).ConfigureAwait(false);
        LogExecuted(_logger, command.Kind, command.CommandId, reply.Message);
        await ReplyAsync(message, reply, stop).ConfigureAwait(false);
        await _reporter.PublishStatusSafeAsync(stop).ConfigureAwait(false);
    }

    /// <summary>Runs a verified command; a failing handler becomes an <c>ok=false</c> reply saying why.</summary>
    internal async Task<CommandReply> ExecuteAsync(Command command, CancellationToken stop)
    {
        if (!_handlers.TryGetValue(command.Kind, out var handler))
            return Reply(command, false, $"unknown command kind {command.Kind}");
        try
        {
            return await handler(command, command.Args ?? new Dictionary<string, string>(), stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            return Reply(command, false, $"{command.Kind} failed: {ex.Message}");
        }
    }

    private async Task<CommandReply> TrainNowAsync(Command command, IReadOnlyDictionary<string, string> args, CancellationToken stop)
    {
        if (!_runtime.HasModel) return Reply(command, false, new NoModelException().Message);
        var result = await _runtime.TrainNowAsync("manual: fleet command", stop).ConfigureAwait(false);
        if (result is null) return Reply(command, false, "no run: too few fresh labelled samples, or learning is paused");
        var d = result.Decision;
        return Reply(command, true, result.Promoted ? $"promoted {d.NewVersion}" : "challenger did not beat the champion; kept it",
            new Dictionary<string, string>
            {
                ["promoted"] = result.Promoted ? "true" : "false",
                ["championMetric"] = d.ChampionMetric.ToString("R", CultureInfo.InvariantCulture),
                ["challengerMetric"] = d.ChallengerMetric.ToString("R", CultureInfo.InvariantCulture),
                ["version"] = d.NewVersion ?? d.ChampionVersion,
            });
    }

    private CommandReply Rollback(Command command, IReadOnlyDictionary<string, string> args)
    {
        var learner = _runtime.Learner;
        if (learner is null) return Reply(command, false, new NoModelException().Message);
        var previous = learner.Status.PreviousVersion;
        if (args.TryGetValue("version", out var wanted) && wanted != previous)
            return Reply(command, false, $"can only roll back to the previous champion {previous ?? "(none)"}, not {wanted}");
        return learner.Rollback()
            ? Reply(command, true, $"rolled back to {learner.ModelVersion}")
            : Reply(command, false, "there is no previous champion to roll back to");
    }

    private CommandReply Pause(Command command)
    {
        (_runtime.Learner ?? throw new NoModelException()).Pause();
        return Reply(command, true, "learning paused; still serving");
    }

    private CommandReply Resume(Command command)
    {
        (_runtime.Learner ?? throw new NoModelException()).Resume();
        return Reply(command, true, "learning resumed");
    }

    private async Task<CommandReply> WipeDataAsync(Command command, IReadOnlyDictionary<string, string> args, CancellationToken stop)
    {
        (_runtime.Learner ?? throw new NoModelException()).WipeData();
        // The residual is made from those samples' updates: forget it too.
        await _deltas.ForgetResidualAsync(stop).ConfigureAwait(false);
        return Reply(command, true, "stored samples, replay buffer and unsent residual deleted");
    }

    private async Task<CommandReply> SetConfigAsync(Command command, IReadOnlyDictionary<string, string> args, CancellationToken stop)
    {
        var before = _settings.Cohort;
        var now = _settings.Apply(args);
        if (before != _settings.Cohort) await _releases.ReconsiderAsync(stop).ConfigureAwait(false);
        _reporter.Nudge();
        return Reply(command, true, "config updated: " + string.Join(", ", args.Select(kv => $"{kv.Key}={kv.Value}")), now);
    }

    private async Task<CommandReply> ReportAsync(Command command, IReadOnlyDictionary<string, string> args, CancellationToken stop)
    {
        await _reporter.PublishStatusAsync(stop).ConfigureAwait(false);
        await _reporter.PublishTelemetryAsync(FleetQos.AtLeastOnce, stop).ConfigureAwait(false);
        var s = _reporter.BuildStatus();
        var data = new Dictionary<string, string>
        {
            ["modelVersion"] = s.ModelVersion ?? "",
            ["engine"] = s.Engine ?? "",
            ["cohort"] = s.Cohort ?? "",
            ["queueDepth"] = _deltas.Outbox.Count.ToString(CultureInfo.InvariantCulture),
            ["paused"] = s.Paused ? "true" : "false",
        };
        if (_releases.LastRejection is { } r) data["lastReleaseRejection"] = r;
        if (_runtime.LastError is { } e) data["lastError"] = e;
        return Reply(command, true, "status and telemetry published", data);
    }

    private CommandReply Reply(Command command, bool ok, string message, IReadOnlyDictionary<string, string>? data = null) =>
        new() { CommandId = command.CommandId, DeviceId = _runtime.Options.DeviceId, Ok = ok, Message = message, Data = data, Timestamp = _time.GetUtcNow() };

    public void Dispose() => _operators.Dispose();

    // The sender's response topic only says that it wants a reply: the reply goes to this device's own topic, so a
    // command cannot make the device publish into another device's (or the aggregator's) topics.
    private async Task ReplyAsync(FleetMessage request, CommandReply reply, CancellationToken stop)
    {
        if (string.IsNullOrEmpty(request.ResponseTopic) && request.CorrelationData is not { Length: > 0 }) return; // fire-and-forget command
        try
        {
            await _connection.ReplyAsync(_replyTopic, request.CorrelationData, FleetJson.Serialize(reply), stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Command {Kind} ({CommandId}) refused ({Refusal}): {Reason}")]
    private static partial void LogRefused(ILogger logger, CommandKind kind, string commandId, CommandRefusal refusal, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No operator key is configured, so this device refuses every fleet command. List the operators' public keys (PEM) in commands:operatorKeys, CL_DEVICE_COMMANDS__OPERATORKEYS or --operator-key.")]
    private static partial void LogNoOperatorKeys(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Command {CommandId} already executed (QoS 1 duplicate or redelivery after a restart); ignoring.")]
    private static partial void LogDuplicate(ILogger logger, string commandId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Command {Kind} ({CommandId}): {Outcome}")]
    private static partial void LogExecuted(ILogger logger, CommandKind kind, string commandId, string? outcome);
}
