using System.Collections.Concurrent;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Console;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The console's actions as attacks and as operator work: each replayed without a credential, with a wrong or malformed
/// one, and with a revoked one is refused (401/403) and changes nothing; with the operator's token it runs the shared
/// release logic. Every attempt is an audit row.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleActionTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private static readonly string Model = AggregatorTestKit.Model;

    [Fact]
    public async Task Rollback_is_refused_without_a_valid_token_and_done_and_audited_with_the_operators()
    {
        await using var host = await StartWithSecondReleaseAsync();
        var registry = host.Service.Registry;
        var path = "/api/v1/versions/1.0.0/rollback";

        var (status, problem) = await host.PostAsync(path, token: null);
        Assert.Equal(401, status);
        Assert.Contains("Bearer", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        (status, _) = await host.PostAsync(path, token: "guess-" + ConsoleTestHost.Token);
        Assert.Equal(403, status);
        (status, _) = await host.PostAsync(path, token: ConsoleTestHost.Token[..^1]);
        Assert.Equal(403, status);
        // The token file holds hashes: presenting a line's hash as the token is no credential either.
        (status, _) = await host.PostAsync(path, token: OperatorAuth.Hash(ConsoleTestHost.Token));
        Assert.Equal(403, status);
        using (var basic = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)))
        {
            basic.Headers.TryAddWithoutValidation("Authorization", "Basic " + ConsoleTestHost.Token);
            using var response = await host.Http.SendAsync(basic, TestContext.Current.CancellationToken);
            Assert.Equal(403, (int)response.StatusCode);
        }
        Assert.Equal(VersionStatus.Released, registry.GetVersion(Model, "1.1.0")!.Status);
        Assert.DoesNotContain(registry.Decisions.List(Model), d => d.Decision == DecisionKind.ManualRollback);

        (status, var body) = await host.PostAsync(path, ConsoleTestHost.Token);
        Assert.Equal(200, status);
        Assert.Equal("1.0.0", body.GetProperty("version").GetString());
        Assert.Equal(["1.1.0"], body.GetProperty("rolledBack").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(VersionStatus.RolledBack, registry.GetVersion(Model, "1.1.0")!.Status);
        var decision = registry.Decisions.List(Model, "1.0.0")[^1];
        Assert.Equal(DecisionKind.ManualRollback, decision.Decision);
        Assert.Contains(ConsoleTestHost.Operator, decision.Reason, StringComparison.Ordinal);
        // The release to all went through the aggregator's outbox: allocated with the decision, then sent.
        Assert.Empty(registry.Releases.Unsent(Model));
        Assert.Equal(("1.0.0", Cohorts.All), (registry.Releases.List(Model)[^1].Version, registry.Releases.List(Model)[^1].Cohort));

        var audit = registry.Audit.Recent(10);
        Assert.Equal(
            [("alice", "done"), ("anonymous", "forbidden"), ("anonymous", "forbidden"), ("anonymous", "forbidden"), ("anonymous", "forbidden"), ("anonymous", "unauthenticated")],
            audit.Select(a => (a.Operator, a.Outcome)));
        Assert.All(audit, a => Assert.Equal(("rollback", "1.0.0"), (a.Action, a.Target)));
        var listed = await host.GetJsonAsync("/api/v1/audit?limit=1");
        Assert.Equal("alice", Assert.Single(listed.EnumerateArray()).GetProperty("operator").GetString());
    }

    [Fact]
    public async Task A_revoked_token_is_refused_without_a_restart()
    {
        await using var host = await StartWithSecondReleaseAsync();
        await File.WriteAllTextAsync(host.TokenFile, $"bob:{OperatorAuth.Hash("bobs-token")}\n", TestContext.Current.CancellationToken);
        File.SetLastWriteTimeUtc(host.TokenFile, DateTime.UtcNow.AddSeconds(5)); // a new time even within the file system's resolution

        var (status, _) = await host.PostAsync("/api/v1/versions/1.0.0/rollback", ConsoleTestHost.Token);
        Assert.Equal(403, status);
        Assert.Equal(VersionStatus.Released, host.Service.Registry.GetVersion(Model, "1.1.0")!.Status);
        (status, _) = await host.PostAsync("/api/v1/versions/1.0.0/rollback", "bobs-token");
        Assert.Equal(200, status);
        Assert.Equal("bob", host.Service.Registry.Audit.Recent(1)[0].Operator);
    }

    [Fact]
    public async Task Publish_releases_a_rolled_back_version_and_refuses_an_older_one()
    {
        await using var host = await StartWithSecondReleaseAsync();
        var registry = host.Service.Registry;
        Assert.Equal(200, (await host.PostAsync("/api/v1/versions/1.0.0/rollback", ConsoleTestHost.Token)).Status);

        var (status, _) = await host.PostAsync("/api/v1/versions/1.1.0/publish", token: null);
        Assert.Equal(401, status);
        Assert.Equal(VersionStatus.RolledBack, registry.GetVersion(Model, "1.1.0")!.Status);

        (status, var body) = await host.PostAsync("/api/v1/versions/1.1.0/publish", ConsoleTestHost.Token);
        Assert.Equal(200, status);
        Assert.Equal(VersionStatus.RolledBack, body.GetProperty("previousStatus").GetString());
        Assert.Equal(VersionStatus.Released, registry.GetVersion(Model, "1.1.0")!.Status);
        Assert.Equal("1.1.0", registry.Releases.List(Model)[^1].Version);
        Assert.Empty(registry.Releases.Unsent(Model));

        (status, var problem) = await host.PostAsync("/api/v1/versions/1.0.0/publish", ConsoleTestHost.Token);
        Assert.Equal(409, status);
        Assert.Contains("roll back", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        (status, _) = await host.PostAsync("/api/v1/versions/7.7.7/publish", ConsoleTestHost.Token);
        Assert.Equal(404, status);
        Assert.Equal(["refused", "refused", "done", "unauthenticated", "done"], registry.Audit.Recent(10).Select(a => a.Outcome));
    }

    [Fact]
    public async Task A_device_command_is_signed_with_the_command_key_and_refused_without_one()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var bare = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet + "a"))
        {
            await bare.PublishStatusAsync("d1");
            await WaitUntil(() => bare.Service.Devices.Count == 1);
            var (refused, problem) = await bare.PostAsync("/api/v1/devices/d1/commands", ConsoleTestHost.Token, new { kind = "pause" });
            Assert.Equal(409, refused);
            Assert.Contains("console:commandKey", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet, o => o with { Console = o.Console with { CommandKey = o.PrivateKeyPath } });
        var received = new ConcurrentQueue<Command>();
        host.Devices.MessageReceived += m =>
        {
            received.Enqueue(FleetJson.ReadCommand(m.Payload));
            return Task.CompletedTask;
        };
        await host.Devices.SubscribeAsync(FleetTopics.Command(Fleet, "d1"), cancellationToken: ct);
        await host.PublishStatusAsync("d1");
        await WaitUntil(() => host.Service.Devices.Count == 1);

        Assert.Equal(401, (await host.PostAsync("/api/v1/devices/d1/commands", token: null, new { kind = "pause" })).Status);
        Assert.Equal(403, (await host.PostAsync("/api/v1/devices/d1/commands", "nope", new { kind = "pause" })).Status);
        Assert.Equal(400, (await host.PostAsync("/api/v1/devices/d1/commands", ConsoleTestHost.Token, new { kind = "self-destruct" })).Status);
        Assert.Equal(404, (await host.PostAsync("/api/v1/devices/ghost/commands", ConsoleTestHost.Token, new { kind = "pause" })).Status);
        Assert.Empty(received);

        var (status, body) = await host.PostAsync("/api/v1/devices/d1/commands", ConsoleTestHost.Token, new { kind = "set-config", args = new Dictionary<string, string> { ["cohort"] = "lab" } });
        Assert.Equal(202, status);
        var command = await WaitUntil(() => received.TryPeek(out var c) ? c : null, c => c is not null, "the device receives the command");
        Assert.Equal(body.GetProperty("commandId").GetString(), command!.CommandId);
        Assert.Equal((CommandKind.SetConfig, "lab"), (command.Kind, command.Args!["cohort"]));
        using var publicKey = ReleaseKeys.LoadPublic(host.Kit.PublicKeyPath);
        var verdict = CommandSigner.Verify(command, new Dictionary<string, System.Security.Cryptography.ECDsa> { [ReleaseKeys.KeyId(publicKey)] = publicKey }, Fleet, "d1", DateTimeOffset.UtcNow, CommandLimits.Default);
        Assert.True(verdict.Ok, verdict.Reason);
        Assert.Equal(["done", "refused", "refused", "forbidden", "unauthenticated"], host.Service.Registry.Audit.Recent(10).Select(a => a.Outcome));
    }

    /// <summary>An aggregator without a canary stage whose first aggregation released 1.1.0 after the seed 1.0.0.</summary>
    private async Task<ConsoleTestHost> StartWithSecondReleaseAsync()
    {
        var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet, o => o with { Rollout = o.Rollout with { Canary = false } });
        Assert.True(host.Service.Receive("d1", host.Kit.EncodeDelta("d1")).Accepted);
        Assert.True(host.Service.Receive("d2", host.Kit.EncodeDelta("d2")).Accepted);
        var created = await host.Service.AggregateAsync(force: true, TestContext.Current.CancellationToken);
        Assert.Equal(("1.1.0", VersionStatus.Released), (created!.Version, created.Status));
        return host;
    }
}
