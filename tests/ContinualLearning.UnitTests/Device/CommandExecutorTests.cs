using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// Fleet commands without a broker: one handler per kind, signed commands only, duplicates ignored (across restarts
/// too), replies only on the device's own reply topic.
/// </summary>
public sealed class CommandExecutorTests : IAsyncDisposable
{
    private readonly AgentParts _parts = new();

    private DeviceTestKit Kit => _parts.Kit;

    public ValueTask DisposeAsync() => _parts.DisposeAsync();

    [Fact]
    public async Task A_redelivered_command_id_runs_once()
    {
        var message = Message(Kit.SignedCommand(CommandKind.Report));
        await _parts.Commands.HandleAsync(message, CancellationToken.None);
        await _parts.Commands.HandleAsync(message, CancellationToken.None);

        var reply = Assert.Single(_parts.Connection.Replies);
        Assert.True(reply.Ok, reply.Message);
        Assert.Single(_parts.Connection.Topics, t => t == FleetTopics.Telemetry(Kit.Fleet, Kit.DeviceId));
    }

    [Fact]
    public async Task Attack_command_redelivered_after_a_restart_does_not_run_twice()
    {
        // kill -9 after the command started: the broker redelivers it (QoS 1) to the restarted daemon.
        var message = Message(Kit.SignedCommand(CommandKind.Report));
        await _parts.Commands.HandleAsync(message, CancellationToken.None);
        using var restarted = _parts.NewCommandExecutor();
        await restarted.HandleAsync(message, CancellationToken.None);

        Assert.Single(_parts.Connection.Replies);
        Assert.Single(_parts.Connection.Topics, t => t == FleetTopics.Telemetry(Kit.Fleet, Kit.DeviceId));
        // Another command still runs after the restart.
        await restarted.HandleAsync(Message(Kit.SignedCommand(CommandKind.Report)), CancellationToken.None);
        Assert.Equal(2, _parts.Connection.Topics.Count(t => t == FleetTopics.Telemetry(Kit.Fleet, Kit.DeviceId)));
    }

    [Fact]
    public void Executed_ids_are_forgotten_once_their_command_expired_beyond_the_skew()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var path = Path.Combine(Kit.Root, "ids.txt");
        var ids = new ContinualLearning.Device.Agent.ExecutedCommands(path, TimeSpan.FromSeconds(30), time);
        Assert.True(ids.TryRecord("a", time.GetUtcNow().AddMinutes(1)));
        Assert.False(ids.TryRecord("a", time.GetUtcNow().AddMinutes(1)));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.True(ids.TryRecord("b", time.GetUtcNow().AddMinutes(1)));
        Assert.Equal(1, ids.Count); // "a" dropped: a redelivery of it is refused as expired anyway
        Assert.Equal(1, new ContinualLearning.Device.Agent.ExecutedCommands(path, TimeSpan.FromSeconds(30), time).Count);
    }

    public static TheoryData<string, string> Forgeries => new()
    {
        { "unsigned", "unsigned" },
        { "untrusted key", "does not trust" },
        { "tampered args", "does not match" },
        { "other device", "is for device 'dev-2'" },
        { "expired", "expired at" },
        { "issued in the future", "after this device's clock" },
        { "too long-lived", "accepts at most 600 s" },
    };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task Attack_forged_command_is_refused_answered_and_counted(string forgery, string reason)
    {
        using var stranger = ReleaseKeys.Generate();
        var now = DateTimeOffset.UtcNow;
        var command = forgery switch
        {
            "unsigned" => Kit.SignedCommand(CommandKind.WipeData) with { Signature = null },
            "untrusted key" => Kit.SignedCommand(CommandKind.WipeData, key: stranger),
            "tampered args" => Kit.SignedCommand(CommandKind.SetConfig, new Dictionary<string, string> { ["cohort"] = "canary" }) with { Args = new Dictionary<string, string> { ["cohort"] = "evil" } },
            "other device" => CommandSigner.Sign(new Command { CommandId = "x1", Kind = CommandKind.WipeData }, Kit.OperatorKey, Kit.Fleet, "dev-2", now, TimeSpan.FromMinutes(1)),
            "expired" => Kit.SignedCommand(CommandKind.WipeData, issuedAt: now.AddMinutes(-5)),
            "issued in the future" => Kit.SignedCommand(CommandKind.WipeData, issuedAt: now.AddMinutes(5)),
            _ => Kit.SignedCommand(CommandKind.WipeData, lifetime: TimeSpan.FromHours(2)),
        };
        await _parts.Commands.HandleAsync(Message(command), CancellationToken.None);

        var reply = Assert.Single(_parts.Connection.Replies);
        Assert.False(reply.Ok);
        Assert.Contains(reason, reply.Message, StringComparison.Ordinal);
        Assert.StartsWith("refused: ", reply.Message, StringComparison.Ordinal);
        Assert.Equal(1, _parts.Runtime.Metrics.CommandsRefused);
        Assert.Equal("all", _parts.Settings.Cohort);
    }

    [Fact]
    public async Task A_device_without_operator_keys_refuses_every_command()
    {
        await using var parts = new AgentParts(o => o with { Commands = new() });
        await parts.Commands.HandleAsync(Message(parts.Kit.SignedCommand(CommandKind.SetConfig, new Dictionary<string, string> { ["cohort"] = "canary" }), parts.Kit), CancellationToken.None);

        var reply = Assert.Single(parts.Connection.Replies);
        Assert.False(reply.Ok);
        Assert.Contains("commands:operatorKeys", reply.Message, StringComparison.Ordinal);
        Assert.Equal("all", parts.Settings.Cohort);
    }

    [Fact]
    public async Task Attack_command_naming_another_devices_delta_topic_as_response_topic_replies_on_its_own_topic()
    {
        var victim = FleetTopics.DeltaTopic(Kit.Fleet, "dev-2");
        await _parts.Commands.HandleAsync(Message(Kit.SignedCommand(CommandKind.Report), responseTopic: victim), CancellationToken.None);
        await _parts.Commands.HandleAsync(Message(Kit.SignedCommand(CommandKind.Report) with { Signature = null }, responseTopic: victim), CancellationToken.None);

        Assert.Equal(2, _parts.Connection.Replies.Count);
        Assert.All(_parts.Connection.ReplyTopics, t => Assert.Equal(FleetTopics.CommandReply(Kit.Fleet, Kit.DeviceId), t));
        Assert.DoesNotContain(victim, _parts.Connection.Topics);
    }

    [Fact]
    public async Task Unknown_kinds_and_commands_that_need_a_model_say_why()
    {
        var unknown = await _parts.Commands.ExecuteAsync(Command((CommandKind)99), CancellationToken.None);
        Assert.False(unknown.Ok);
        Assert.Equal("unknown command kind 99", unknown.Message);

        foreach (var kind in new[] { CommandKind.TrainNow, CommandKind.Rollback, CommandKind.Pause, CommandKind.Resume, CommandKind.WipeData })
        {
            var reply = await _parts.Commands.ExecuteAsync(Command(kind), CancellationToken.None);
            Assert.False(reply.Ok);
            Assert.Contains("No model is installed yet", reply.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task An_unreadable_command_is_answered_with_the_parse_error()
    {
        await _parts.Commands.HandleAsync(new FleetMessage("cmd", "{not json"u8.ToArray(), false, "replies"), CancellationToken.None);
        var reply = Assert.Single(_parts.Connection.Replies);
        Assert.Equal("?", reply.CommandId);
        Assert.False(reply.Ok);
    }

    [Fact]
    public async Task A_new_cohort_rereads_the_retained_release_and_the_same_cohort_does_not()
    {
        var release = FleetTopics.Release(Kit.Fleet, DeviceTestKit.Model);
        var moved = await _parts.Commands.ExecuteAsync(Command(CommandKind.SetConfig, ("cohort", "canary")), CancellationToken.None);
        Assert.True(moved.Ok, moved.Message);
        Assert.Equal("canary", _parts.Settings.Cohort);
        Assert.Equal("canary", moved.Data!["cohort"]);
        Assert.Equal(new[] { "unsubscribe " + release, "subscribe " + release }, _parts.Connection.Subscriptions);

        var same = await _parts.Commands.ExecuteAsync(Command(CommandKind.SetConfig, ("cohort", "canary")), CancellationToken.None);
        Assert.True(same.Ok, same.Message);
        Assert.Equal(2, _parts.Connection.Subscriptions.Count);

        var refused = await _parts.Commands.ExecuteAsync(Command(CommandKind.SetConfig, ("broker", "evil:1883")), CancellationToken.None);
        Assert.False(refused.Ok);
        Assert.Contains("cannot be changed remotely", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_without_a_response_topic_runs_without_a_reply()
    {
        await _parts.Commands.HandleAsync(Message(Kit.SignedCommand(CommandKind.SetConfig, new Dictionary<string, string> { ["cohort"] = "canary" }), responseTopic: null), CancellationToken.None);
        Assert.Empty(_parts.Connection.Replies);
        Assert.Equal("canary", _parts.Settings.Cohort);
    }

    private static Command Command(CommandKind kind, params (string Key, string Value)[] args) => new()
    {
        CommandId = Guid.NewGuid().ToString("N"),
        Kind = kind,
        Args = args.Length == 0 ? null : args.ToDictionary(a => a.Key, a => a.Value),
        IssuedAt = DateTimeOffset.UtcNow,
    };

    private FleetMessage Message(Command command, string? responseTopic = "replies") => Message(command, Kit, responseTopic);

    private static FleetMessage Message(Command command, DeviceTestKit kit, string? responseTopic = "replies") =>
        new(FleetTopics.Command(kit.Fleet, kit.DeviceId), FleetJson.Serialize(command), false, responseTopic, responseTopic is null ? null : Guid.NewGuid().ToByteArray());
}
