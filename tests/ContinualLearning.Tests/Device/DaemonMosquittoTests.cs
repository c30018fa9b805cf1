using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ContinualLearning.Deltas;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Tests.Device;

/// <summary>The device daemon against a real Mosquitto: releases, serving, learning, deltas across broker and daemon restarts.</summary>
public sealed class DaemonMosquittoTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _disposables = [];
    private MosquittoBroker _broker = null!;
    private DeviceTestKit _kit = null!;

    public async ValueTask InitializeAsync()
    {
        // The [MosquittoFact] skips the test; when Mosquitto is required, StartAsync fails it with what to install.
        if (TestDependency.Mosquitto.SkipReason(MosquittoBroker.FindExecutable() is not null) is not null) return;
        _broker = await MosquittoBroker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _disposables.Count - 1; i >= 0; i--) await _disposables[i].DisposeAsync();
        if (_broker is not null) await _broker.DisposeAsync();
        _kit?.Dispose();
    }

    [MosquittoFact]
    public async Task Release_serve_learn_delta_survives_broker_and_daemon_restarts_exactly_once()
    {
        var fleet = await ClientAsync("aggregator");
        var received = new ConcurrentQueue<WeightDelta>();
        fleet.MessageReceived += m =>
        {
            if (m.Topic == FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId)) received.Enqueue(DeltaCodec.Decode(m.Payload));
            return Task.CompletedTask;
        };
        await fleet.SubscribeAsync(FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId));

        var (app, http) = await StartAsync();
        var (release, chunks) = _kit.Release("1.0.0");
        await _kit.PublishReleaseAsync(fleet, release, chunks);
        await WaitUntil(async ct => (await http.GetAsync("/health", ct)).StatusCode, s => s == HttpStatusCode.OK, "release installed");

        // Learn from labels served over HTTP, then promote while the broker is down: the delta waits in the outbox.
        var rng = new Random(11);
        for (var i = 0; i < 100; i++)
        {
            var (x, y) = DeviceTestKit.Sea(rng);
            var p = await (await http.PostAsJsonAsync("/predict", new { features = x })).Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/label", new { sampleId = p.GetProperty("sampleId").GetInt64(), label = y })).StatusCode);
        }
        await _broker.StopAsync();
        var service = app.Services.GetRequiredService<DeviceService>();
        var run = await service.Runtime.TrainNowAsync("test");
        Assert.True(run!.Promoted);
        // The training thread only queues the promotion; the agent writes the delta to the outbox right after.
        await WaitUntil(() => service.Agent!.Outbox.Count, n => n == 1, "the promotion's delta in the outbox");
        var queuedId = DeltaCodec.Decode(service.Agent!.Outbox.Peek()!.Payload).Header.DeltaId;

        await _broker.RestartAsync();
        await WaitUntil(() => !received.IsEmpty, "queued delta delivered after the broker came back");
        await WaitUntil(() => service.Agent.Outbox.Count, n => n == 0, "outbox emptied after PUBACK");
        var delta = Assert.Single(received);
        Assert.Equal(queuedId, delta.Header.DeltaId);
        Assert.Equal("1.0.0", delta.Header.BaseVersion);
        Assert.True(Delta.L2Norm(delta) > 0);

        // The daemon restarts and resumes with its promoted champion, not the base release.
        await app.StopAsync();
        await app.DisposeAsync();
        _disposables.Remove(app);
        var (_, http2) = await StartAsync();
        using var doc = JsonDocument.Parse(await http2.GetStringAsync("/health"));
        Assert.Equal(run.Decision.NewVersion, doc.RootElement.GetProperty("version").GetString());
        var again = await (await http2.PostAsJsonAsync("/predict", new { features = new[] { 1f, 2f, 3f } })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(run.Decision.NewVersion, again.GetProperty("modelVersion").GetString());
        // Nothing was re-sent: the aggregator saw the delta exactly once.
        Assert.Single(received);
    }

    [MosquittoFact]
    public async Task Tampered_and_unsigned_releases_are_refused()
    {
        var fleet = await ClientAsync("aggregator");
        var (app, http) = await StartAsync();
        var agent = app.Services.GetRequiredService<DeviceService>().Agent!;

        var (unsigned, chunks) = _kit.Release("1.0.0", sign: false);
        await _kit.PublishReleaseAsync(fleet, unsigned, chunks);
        await WaitUntil(() => agent.LastReleaseRejection?.Contains("unsigned", StringComparison.Ordinal) == true, "unsigned release refused");

        var (signed, signedChunks) = _kit.Release("1.0.1");
        await _kit.PublishReleaseAsync(fleet, signed with { Cohort = "all", ParentVersion = "0.9.0" }, signedChunks);
        await WaitUntil(() => agent.LastReleaseRejection?.Contains("signature does not match", StringComparison.Ordinal) == true, "tampered release refused");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health")).StatusCode);
    }

    [MosquittoFact]
    public async Task Attack_forged_commands_misdirected_replies_and_replayed_releases_fail_against_the_daemon()
    {
        var attacker = await ClientAsync("attacker");
        var victimTopic = FleetTopics.DeltaTopic(_kit.Fleet, "dev-2");
        var onVictim = new ConcurrentQueue<byte[]>();
        var replies = new ConcurrentQueue<CommandReply>();
        var ownReplyTopic = FleetTopics.CommandReply(_kit.Fleet, _kit.DeviceId);
        attacker.MessageReceived += m =>
        {
            if (m.Topic == victimTopic) onVictim.Enqueue(m.Payload);
            if (m.Topic == ownReplyTopic) replies.Enqueue(FleetJson.ReadCommandReply(m.Payload));
            return Task.CompletedTask;
        };
        await attacker.SubscribeAsync(victimTopic);
        await attacker.SubscribeAsync(ownReplyTopic);
        var (app, http) = await StartAsync();
        var agent = app.Services.GetRequiredService<DeviceService>().Agent!;
        await agent.WaitUntilConnectedAsync(TestContext.Current.CancellationToken);
        var (old, oldChunks) = _kit.Release("1.0.0");
        await _kit.PublishReleaseAsync(attacker, old, oldChunks);
        await WaitUntil(async ct => (await http.GetAsync("/health", ct)).StatusCode, s => s == HttpStatusCode.OK, "1.0.0 installed");
        var (current, chunks) = _kit.Release("1.1.0");
        await _kit.PublishReleaseAsync(attacker, current, chunks);
        await WaitUntil(() => agent.AcceptedReleaseSequence, n => n == current.Sequence, "1.1.0 installed");

        // An unsigned wipe-data and a validly signed report that names another device's delta topic as response topic.
        var command = FleetTopics.Command(_kit.Fleet, _kit.DeviceId);
        await attacker.PublishAsync(command, FleetJson.Serialize(_kit.SignedCommand(CommandKind.WipeData) with { Signature = null }), responseTopic: victimTopic, correlationData: [1]);
        await attacker.PublishAsync(command, FleetJson.Serialize(_kit.SignedCommand(CommandKind.Report)), responseTopic: victimTopic, correlationData: [2]);
        await WaitUntil(() => replies.Count, n => n == 2, "both answered on the device's own reply topic");
        Assert.Contains(replies, r => !r.Ok && r.Message!.Contains("unsigned", StringComparison.Ordinal));
        Assert.Contains(replies, r => r.Ok);
        Assert.Equal(1, app.Services.GetRequiredService<DeviceService>().Runtime.Metrics.CommandsRefused);

        // The old, validly signed release replayed as the retained one.
        await attacker.PublishAsync(FleetTopics.Release(_kit.Fleet, DeviceTestKit.Model), FleetJson.Serialize(old), retain: true);
        await WaitUntil(() => agent.LastReleaseRejection?.Contains("replayed older release", StringComparison.Ordinal) == true, "replayed release refused");

        using var doc = JsonDocument.Parse(await http.GetStringAsync("/health"));
        Assert.Equal("1.1.0", doc.RootElement.GetProperty("baseVersion").GetString());
        Assert.Empty(onVictim);
    }

    private async Task<(WebApplication App, HttpClient Http)> StartAsync()
    {
        var app = DeviceHost.Build(_kit.Options, configureLogging: l => l.ClearProviders());
        _disposables.Add(app);
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = DeviceHost.HttpAddress(app) });
    }

    private async Task<FleetMqttClient> ClientAsync(string id)
    {
        var client = new FleetMqttClient(new FleetMqttClientOptions { ClientId = $"{_kit.Fleet}-{id}", Port = _broker.Port, ReconnectBaseDelay = TimeSpan.FromMilliseconds(50), ReconnectMaxDelay = TimeSpan.FromMilliseconds(500) });
        _disposables.Add(client);
        await client.StartAsync();
        return client;
    }
}
