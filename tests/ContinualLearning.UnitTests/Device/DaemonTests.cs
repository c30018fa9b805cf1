using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ContinualLearning.Deltas;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Gpio;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// The whole daemon (host, HTTP, MQTT agent, learner, simulated GPIO) against the embedded broker: releases, serving,
/// labels, commands, deltas, the outbox across restarts.
/// </summary>
public sealed class DaemonTests : IAsyncLifetime
{
    private readonly EmbeddedBroker _broker = new();
    private readonly List<IAsyncDisposable> _disposables = [];
    private DeviceTestKit _kit = null!;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _disposables.Count - 1; i >= 0; i--) await _disposables[i].DisposeAsync();
        await _broker.DisposeAsync();
        _kit.Dispose();
    }

    [Fact]
    public async Task Signed_release_is_installed_served_labelled_and_learned_into_a_delta()
    {
        var gpio = new SimulatedGpioDriver();
        _kit.Options = _kit.Options with { Gpio = new GpioOptions { Enabled = true, Simulated = true, LedPin = 17, ButtonPin = 27 } };
        var (app, http) = await StartAsync(gpio);
        var fleet = await ClientAsync("fleet");
        var deltas = new ConcurrentQueue<byte[]>();
        fleet.MessageReceived += m =>
        {
            if (m.Topic == FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId)) deltas.Enqueue(m.Payload);
            return Task.CompletedTask;
        };
        await fleet.SubscribeAsync(FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId));

        // No model yet: health says so, predict refuses with a JSON error.
        var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var refused = await http.PostAsJsonAsync("/predict", new { features = new[] { 1f, 2f, 3f } });
        Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, await refused.Content.ReadAsStringAsync());

        var (release, chunks) = _kit.Release("1.0.0");
        await _kit.PublishReleaseAsync(fleet, release, chunks);
        await WaitUntil(async ct => (await http.GetAsync("/health", ct)).StatusCode, s => s == HttpStatusCode.OK, "release installed");
        using (var doc = JsonDocument.Parse(await http.GetStringAsync("/health")))
            Assert.Equal("1.0.0", doc.RootElement.GetProperty("version").GetString());

        // Predict by array and by name; bad requests name the field.
        var byName = await (await http.PostAsJsonAsync("/predict", new { features = new Dictionary<string, float> { ["f1"] = 1, ["f2"] = 2, ["f3"] = 3 } })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("1.0.0", byName.GetProperty("modelVersion").GetString());
        Assert.Equal(2, byName.GetProperty("probabilities").GetArrayLength());
        var bad = await http.PostAsJsonAsync("/predict", new { features = new object[] { 1, "x", 3 } });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var badBody = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("features[1]", badBody.GetProperty("field").GetString());
        Assert.Equal("\"x\"", badBody.GetProperty("value").GetString());
        var wrongCount = await http.PostAsJsonAsync("/predict", new { features = new[] { 1f } });
        Assert.Equal(HttpStatusCode.BadRequest, wrongCount.StatusCode);
        var unknownLabel = await http.PostAsJsonAsync("/label", new { sampleId = byName.GetProperty("sampleId").GetInt64(), label = "SIDEWAYS" });
        Assert.Equal(HttpStatusCode.BadRequest, unknownLabel.StatusCode);

        // The button confirms the last prediction as its label.
        var service = app.Services.GetRequiredService<DeviceService>();
        var labelsBefore = service.Runtime.Metrics.Labels;
        await http.PostAsJsonAsync("/predict", new { features = new[] { 1f, 1f, 1f } });
        gpio.Press(27);
        Assert.Equal(labelsBefore + 1, service.Runtime.Metrics.Labels);

        // Label enough SEA samples over HTTP, then train now by fleet command.
        var rng = new Random(3);
        for (var i = 0; i < 120; i++)
        {
            var (x, y) = DeviceTestKit.Sea(rng);
            var p = await (await http.PostAsJsonAsync("/predict", new { features = x })).Content.ReadFromJsonAsync<JsonElement>();
            var labelled = await http.PostAsJsonAsync("/label", new { sampleId = p.GetProperty("sampleId").GetInt64(), label = y });
            Assert.Equal(HttpStatusCode.OK, labelled.StatusCode);
        }
        // Prequential accuracy is measured on the labelled predictions (a new champion starts a fresh window).
        Assert.Matches(@"cl_window_accuracy 0?\.[0-9]+|cl_window_accuracy 1\n", await http.GetStringAsync("/metrics"));
        var ledWritesBefore = gpio.WriteCount(17);
        var reply = await CommandAsync(fleet, CommandKind.TrainNow);
        Assert.True(reply.Ok, reply.Message);
        Assert.Equal("true", reply.Data!["promoted"]);

        await WaitUntil(() => !deltas.IsEmpty, "delta published");
        Assert.True(deltas.TryDequeue(out var payload));
        var delta = DeltaCodec.Decode(payload, new DeltaDecodeOptions { ExpectedTensors = DeviceTestKit.Manifest("1.0.0").Head.Parameters().ToArray() });
        Assert.Equal("1.0.0", delta.Header.BaseVersion);
        Assert.Equal(_kit.DeviceId, delta.Header.DeviceId);
        Assert.True(delta.Header.SampleCount > 0);
        Assert.True(Delta.L2Norm(delta) > 0, "the delta carries the learned change");
        await WaitUntil(() => gpio.WriteCount(17) >= ledWritesBefore + 6, "LED flashed on promotion");

        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("cl_promotions_total 1", metrics);
        Assert.Contains("cl_training_runs_total 1", metrics);
        Assert.Contains("cl_model_info{model=\"sea\",version=\"", metrics);
        Assert.Contains("cl_queue_depth 0", metrics);
        Assert.Matches(@"cl_predictions_total \d+", metrics);
        // The trained samples went into the replay buffer, and /metrics says how many it holds.
        var replay = service.Runtime.Learner!.Status.ReplaySize;
        Assert.True(replay > 0, "the run's samples were offered to the replay buffer");
        Assert.Contains($"cl_replay_samples {replay}\n", metrics);
        Assert.Matches(@"cl_store_samples \d+\n", metrics);
        Assert.True(service.Runtime.Metrics.TrainingTime > TimeSpan.Zero, "the run's wall time is counted");
        Assert.Matches(@"cl_training_seconds_total [0-9.E-]+\n", metrics);
    }

    [Fact]
    public async Task Unsigned_or_tampered_releases_are_refused_with_the_reason()
    {
        var (_, http) = await StartAsync();
        var fleet = await ClientAsync("fleet");

        var (unsigned, chunks) = _kit.Release("1.0.0", sign: false);
        await _kit.PublishReleaseAsync(fleet, unsigned, chunks);
        var report = await EventuallyReportAsync(fleet, r => r.Data!.TryGetValue("lastReleaseRejection", out var why) && why.Contains("unsigned", StringComparison.Ordinal));
        Assert.Contains("1.0.0", report.Data!["lastReleaseRejection"]);

        // Signed, then one chunk hash edited: the signature no longer matches.
        var (signed, signedChunks) = _kit.Release("1.0.1");
        var hashes = signed.ChunkSha256.ToArray();
        hashes[0] = new string('0', 64);
        await _kit.PublishReleaseAsync(fleet, signed with { ChunkSha256 = hashes }, signedChunks);
        await EventuallyReportAsync(fleet, r => r.Data!.TryGetValue("lastReleaseRejection", out var why) && why.Contains("signature does not match", StringComparison.Ordinal));

        // Properly signed release, but a chunk's bytes were altered in transit to the device.
        var (good, goodChunks) = _kit.Release("1.0.2");
        var altered = goodChunks.ToArray();
        var data = (byte[])altered[0].Data.Clone();
        data[10] ^= 0xFF;
        altered[0] = altered[0] with { Data = data };
        await _kit.PublishReleaseAsync(fleet, good, altered);
        await EventuallyReportAsync(fleet, r => r.Data!.TryGetValue("lastReleaseRejection", out var why) && why.Contains("tampered", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health")).StatusCode);
        Assert.Contains("cl_releases_rejected_total", await http.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Commands_reply_and_cohort_gates_releases()
    {
        var (app, http) = await StartAsync();
        var fleet = await ClientAsync("fleet");
        var agent = app.Services.GetRequiredService<DeviceService>().Agent!;
        // Commands are not retained: one sent before the device subscribed would never arrive.
        await agent.WaitUntilConnectedAsync(TestContext.Current.CancellationToken);

        var noModel = await CommandAsync(fleet, CommandKind.Pause);
        Assert.False(noModel.Ok);
        Assert.Contains("No model", noModel.Message);

        var refusedKey = await CommandAsync(fleet, CommandKind.SetConfig, new Dictionary<string, string> { ["broker"] = "evil:1883" });
        Assert.False(refusedKey.Ok);
        Assert.Contains("cannot be changed remotely", refusedKey.Message);

        // A canary release is ignored by an "all" device...
        var (canary, chunks) = _kit.Release("2.0.0", cohort: "canary");
        await _kit.PublishReleaseAsync(fleet, canary, chunks);
        var report = await CommandAsync(fleet, CommandKind.Report);
        Assert.True(report.Ok);
        Assert.Equal("", report.Data!["modelVersion"]);

        // ...until the fleet moves it into the canary cohort.
        var moved = await CommandAsync(fleet, CommandKind.SetConfig, new Dictionary<string, string> { ["cohort"] = "canary" });
        Assert.True(moved.Ok, moved.Message);
        Assert.Equal("canary", agent.Settings.Cohort);
        await WaitUntil(async ct => (await http.GetAsync("/health", ct)).StatusCode, s => s == HttpStatusCode.OK, "canary release installed");

        Assert.True((await CommandAsync(fleet, CommandKind.Pause)).Ok);
        Assert.True(agent.BuildStatus().Paused);
        Assert.True((await CommandAsync(fleet, CommandKind.Resume)).Ok);
        Assert.True((await CommandAsync(fleet, CommandKind.WipeData)).Ok);
        var rollback = await CommandAsync(fleet, CommandKind.Rollback);
        Assert.False(rollback.Ok); // nothing promoted yet
        var expired = await CommandAsync(fleet, CommandKind.Report, expiresAt: DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.False(expired.Ok);
        Assert.Contains("expired", expired.Message);
    }

    [Fact]
    public async Task Outbox_survives_a_restart_and_the_resend_keeps_the_delta_id()
    {
        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0") };
        var (app, _) = await StartAsync();
        var service = app.Services.GetRequiredService<DeviceService>();
        await service.Agent!.WaitUntilConnectedAsync();
        await _broker.StopAsync();

        var rng = new Random(5);
        for (var i = 0; i < 80; i++)
        {
            var (x, y) = DeviceTestKit.Sea(rng);
            service.Runtime.AddLabelled(x, y);
        }
        var run = await service.Runtime.TrainNowAsync("test");
        Assert.True(run!.Promoted);
        // Stopping writes the promotions the training thread queued to the outbox before the agent goes offline.
        await app.StopAsync();
        Assert.Equal(1, service.Agent.Outbox.Count);
        var queuedId = DeltaCodec.Decode(service.Agent.Outbox.Peek()!.Payload).Header.DeltaId;
        await app.DisposeAsync();
        _disposables.Remove(app);

        await _broker.StartAsync();
        var fleet = await ClientAsync("fleet");
        var received = new ConcurrentQueue<Guid>();
        fleet.MessageReceived += m =>
        {
            if (m.Topic == FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId)) received.Enqueue(DeltaCodec.Decode(m.Payload).Header.DeltaId);
            return Task.CompletedTask;
        };
        await fleet.SubscribeAsync(FleetTopics.DeltaTopic(_kit.Fleet, _kit.DeviceId));

        var (restarted, http) = await StartAsync();
        await WaitUntil(() => !received.IsEmpty, "queued delta delivered after restart");
        Assert.Equal(queuedId, Assert.Single(received.Distinct()));
        var agent = restarted.Services.GetRequiredService<DeviceService>().Agent!;
        await WaitUntil(() => agent.Outbox.Count, n => n == 0, "outbox emptied after PUBACK");
        // The restarted daemon serves its promoted champion, not the base.
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/health"));
        Assert.Equal(run.Decision.NewVersion, doc.RootElement.GetProperty("version").GetString());
    }

    private async Task<(WebApplication App, HttpClient Http)> StartAsync(SimulatedGpioDriver? gpio = null)
    {
        var app = DeviceHost.Build(_kit.Options, configureLogging: l => l.ClearProviders(), simulatedGpio: gpio);
        _disposables.Add(app);
        await app.StartAsync();
        // Connected means subscribed: a command sent before that is not retained and would be lost.
        await app.Services.GetRequiredService<DeviceService>().Agent!.WaitUntilConnectedAsync().WaitAsync(Polling.DefaultPatience);
        var http = new HttpClient { BaseAddress = DeviceHost.HttpAddress(app) };
        return (app, http);
    }

    private async Task<FleetMqttClient> ClientAsync(string id)
    {
        var client = new FleetMqttClient(new FleetMqttClientOptions { ClientId = $"{_kit.Fleet}-{id}", Port = _broker.Port, ReconnectBaseDelay = TimeSpan.FromMilliseconds(50) });
        _disposables.Add(client);
        await client.StartAsync();
        return client;
    }

    private async Task<CommandReply> CommandAsync(FleetMqttClient fleet, CommandKind kind, IReadOnlyDictionary<string, string>? args = null, DateTimeOffset? expiresAt = null)
    {
        var command = _kit.SignedCommand(kind, args, issuedAt: expiresAt?.AddMinutes(-1));
        var reply = await fleet.RequestAsync(FleetTopics.Command(_kit.Fleet, _kit.DeviceId), FleetJson.Serialize(command), FleetTopics.CommandReply(_kit.Fleet, _kit.DeviceId), TimeSpan.FromSeconds(30));
        var parsed = FleetJson.ReadCommandReply(reply.Payload);
        Assert.Equal(command.CommandId, parsed.CommandId);
        return parsed;
    }

    private Task<CommandReply> EventuallyReportAsync(FleetMqttClient fleet, Func<CommandReply, bool> condition) =>
        WaitUntil(_ => CommandAsync(fleet, CommandKind.Report), condition, "a report showing the expected state",
            describe: reply => string.Join(", ", reply.Data!.Select(kv => $"{kv.Key}={kv.Value}")));
}
