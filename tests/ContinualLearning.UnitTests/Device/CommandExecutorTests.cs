using ContinualLearning.Device.Agent;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Fleet commands without a broker: one handler per kind, duplicates ignored, expired commands refused.</summary>
public sealed class CommandExecutorTests : IAsyncDisposable
{
    private readonly AgentParts _parts = new();

    private DeviceTestKit Kit => _parts.Kit;

    public ValueTask DisposeAsync() => _parts.DisposeAsync();

    [Fact]
    public async Task A_redelivered_command_id_runs_once()
    {
        var message = Message(Command(CommandKind.Report));
        await _parts.Commands.HandleAsync(message, CancellationToken.None);
        await _parts.Commands.HandleAsync(message, CancellationToken.None);

        var reply = Assert.Single(_parts.Connection.Replies);
        Assert.True(reply.Ok, reply.Message);
        Assert.Single(_parts.Connection.Topics, t => t == FleetTopics.Telemetry(Kit.Fleet, Kit.DeviceId));
    }

    [Fact]
    public async Task An_expired_command_is_answered_and_not_run()
    {
        var command = Command(CommandKind.Report) with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) };
        var reply = await _parts.Commands.ExecuteAsync(command, CancellationToken.None);

        Assert.False(reply.Ok);
        Assert.StartsWith("expired at ", reply.Message, StringComparison.Ordinal);
        Assert.Empty(_parts.Connection.Published);
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
        await _parts.Commands.HandleAsync(Message(Command(CommandKind.SetConfig, ("cohort", "canary")), responseTopic: null), CancellationToken.None);
        Assert.Empty(_parts.Connection.Replies);
        Assert.Equal("canary", _parts.Settings.Cohort);
    }

    [Fact]
    public void Remembered_command_ids_are_bounded()
    {
        var ids = new RecentCommandIds();
        Assert.True(ids.TryAdd("first"));
        Assert.False(ids.TryAdd("first"));
        for (var i = 0; i < RecentCommandIds.Capacity; i++) Assert.True(ids.TryAdd("id-" + i));
        // The oldest id was forgotten to make room; a very late duplicate of it runs again.
        Assert.True(ids.TryAdd("first"));
        Assert.False(ids.TryAdd("id-" + (RecentCommandIds.Capacity - 1)));
    }

    private static Command Command(CommandKind kind, params (string Key, string Value)[] args) => new()
    {
        CommandId = Guid.NewGuid().ToString("N"),
        Kind = kind,
        Args = args.Length == 0 ? null : args.ToDictionary(a => a.Key, a => a.Value),
        IssuedAt = DateTimeOffset.UtcNow,
    };

    private FleetMessage Message(Command command, string? responseTopic = "replies") =>
        new(FleetTopics.Command(Kit.Fleet, Kit.DeviceId), FleetJson.Serialize(command), false, responseTopic);
}
