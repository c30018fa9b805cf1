using System.Collections.Concurrent;
using System.CommandLine;
using System.Text;
using ContinualLearning.Cli.Commands;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Tests.Fleet;

/// <summary>
/// The attacks of issue 11 that need only a broker connection (1, and the topic parts of 3 and 7), replayed against a
/// Mosquitto started with exactly what `cl fleet ca new`, `cl device provision`, `cl fleet cert` and `cl broker config`
/// wrote. Each attack asserts on what the victim's subscriber receives, not only on the refused PUBACK. A refused
/// publish is followed by an allowed marker that the same subscriber must receive: Mosquitto routes a QoS 1 message
/// before it acknowledges it, so a forged message that had got through would have arrived before the marker.
/// </summary>
public sealed class FleetAclMosquittoTests : IAsyncLifetime
{
    private const string Fleet = "f";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-acl-").FullName;
    private readonly List<FleetMqttClient> _clients = [];
    private MosquittoBroker? _broker;

    private MosquittoBroker Broker => _broker!;

    public async ValueTask InitializeAsync()
    {
        if (MosquittoBroker.FindExecutable() is null) return; // MosquittoFact skips (or fails under CL_REQUIRE_MOSQUITTO)
        var port = MosquittoBroker.FreePort();
        await Cl("fleet", "ca", "new", "--out", Dir("ca"), "--fleet", Fleet);
        await Cl("device", "provision", "dev-1", "--ca", Dir("ca"), "--out", Dir("dev-1"));
        await Cl("device", "provision", "dev-2", "--ca", Dir("ca"), "--out", Dir("dev-2"));
        await Cl("fleet", "cert", "aggregator", "agg-1", "--ca", Dir("ca"), "--out", Dir("agg-1"));
        await Cl("fleet", "cert", "operator", "alice", "--ca", Dir("ca"), "--out", Dir("alice"));
        await Cl("broker", "config", "--ca", Dir("ca"), "--out", Dir("broker"), "--aggregator", "agg-1", "--operator", "alice",
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--host", "127.0.0.1");
        _broker = await MosquittoBroker.StartFromConfigAsync(Path.Combine(Dir("broker"), MosquittoBrokerConfig.ConfigFileName), port);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients) await client.DisposeAsync();
        if (_broker is not null) await _broker.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [MosquittoFact]
    public async Task Attack_anonymous_client_and_a_certificate_of_another_ca_are_refused()
    {
        var anonymous = await MosquittoSecurityTests.FirstConnectFailureAsync(Options("anonymous", FleetTlsFiles.Load(Path.Combine(Dir("ca"), "ca.crt"), null, null, false)));
        Assert.Contains("certificate", anonymous.Message, StringComparison.OrdinalIgnoreCase);

        // A client certificate with a valid-looking CN ("aggregator:agg-1") from a CA the broker does not trust.
        await Cl("fleet", "ca", "new", "--out", Dir("rogue-ca"), "--fleet", Fleet);
        await Cl("fleet", "cert", "aggregator", "agg-1", "--ca", Dir("rogue-ca"), "--out", Dir("rogue"));
        var rogue = FleetTlsFiles.Load(Path.Combine(Dir("ca"), "ca.crt"), Path.Combine(Dir("rogue"), "aggregator.crt"), Path.Combine(Dir("rogue"), "aggregator.key"), false);
        await MosquittoSecurityTests.FirstConnectFailureAsync(Options("rogue", rogue));

        // The broker's own (server) certificate is not a client certificate.
        var server = FleetTlsFiles.Load(Path.Combine(Dir("ca"), "ca.crt"), Path.Combine(Dir("broker"), "broker.crt"), Path.Combine(Dir("broker"), "broker.key"), false);
        await MosquittoSecurityTests.FirstConnectFailureAsync(Options("server-cert", server));
    }

    [MosquittoFact]
    public async Task Attack_device_publishing_a_delta_as_another_device_is_not_delivered_to_the_aggregator()
    {
        var aggregator = await ConnectAsync("agg-1");
        var deltas = await CollectAsync(aggregator, $"$share/aggregators/cl/{Fleet}/device/+/delta");
        var attacker = await ConnectAsync("dev-2");

        await RefusedAsync(attacker, $"cl/{Fleet}/device/dev-1/delta", "forged delta");
        await RefusedAsync(attacker, $"cl/{Fleet}/device/ghost/delta", "delta of a device that does not exist");
        await attacker.PublishAsync($"cl/{Fleet}/device/dev-2/delta", Encoding.UTF8.GetBytes("marker"));

        var received = await deltas.UntilAsync("marker");
        Assert.Equal([$"cl/{Fleet}/device/dev-2/delta marker"], received);
    }

    [MosquittoFact]
    public async Task Attack_device_sending_wipe_data_and_pause_to_another_device_is_not_delivered()
    {
        var victim = await ConnectAsync("dev-1");
        var commands = await CollectAsync(victim, $"cl/{Fleet}/device/dev-1/cmd");
        var attacker = await ConnectAsync("dev-2");

        await RefusedAsync(attacker, $"cl/{Fleet}/device/dev-1/cmd", """{"kind":"wipe-data"}""");
        await RefusedAsync(attacker, $"cl/{Fleet}/device/dev-1/cmd", """{"kind":"pause"}""");
        await (await ConnectAsync("alice")).PublishAsync($"cl/{Fleet}/device/dev-1/cmd", Encoding.UTF8.GetBytes("marker"));

        Assert.Equal([$"cl/{Fleet}/device/dev-1/cmd marker"], await commands.UntilAsync("marker"));
    }

    [MosquittoFact]
    public async Task Attack_device_injecting_samples_into_another_device_is_not_delivered()
    {
        var victim = await ConnectAsync("dev-1");
        var samples = await CollectAsync(victim, $"cl/{Fleet}/device/dev-1/samples");
        var attacker = await ConnectAsync("dev-2");

        for (var i = 0; i < 20; i++)
            await RefusedAsync(attacker, $"cl/{Fleet}/device/dev-1/samples", """{"features":[1,2,3],"label":0}""");
        // Reading another device's samples is refused too (Mosquitto grants the SUBSCRIBE but delivers nothing).
        var snooped = await CollectAsync(attacker, $"cl/{Fleet}/device/+/samples");
        await (await ConnectAsync("alice")).PublishAsync($"cl/{Fleet}/device/dev-1/samples", Encoding.UTF8.GetBytes("operator sample"));
        await victim.PublishAsync($"cl/{Fleet}/device/dev-1/samples", Encoding.UTF8.GetBytes("marker"));

        Assert.Equal([$"cl/{Fleet}/device/dev-1/samples operator sample", $"cl/{Fleet}/device/dev-1/samples marker"], await samples.UntilAsync("marker"));
        Assert.Empty(snooped.Received);
    }

    [MosquittoFact]
    public async Task Attack_device_or_operator_overwriting_the_retained_release_leaves_it_intact()
    {
        var release = $"cl/{Fleet}/model/m/release";
        var aggregator = await ConnectAsync("agg-1");
        await aggregator.PublishAsync(release, Encoding.UTF8.GetBytes("signed release 1.0.0"), retain: true);
        await aggregator.PublishAsync($"cl/{Fleet}/model/m/1.0.0/chunk/0", Encoding.UTF8.GetBytes("chunk 0"), retain: true);

        await RefusedAsync(await ConnectAsync("dev-2"), release, "garbage", retain: true);
        await RefusedAsync(await ConnectAsync("dev-2"), release, "", retain: true); // clearing it is a write too
        await RefusedAsync(await ConnectAsync("dev-2"), $"cl/{Fleet}/model/m/1.0.0/chunk/0", "garbage chunk", retain: true);
        await RefusedAsync(await ConnectAsync("alice"), release, "operator garbage", retain: true);

        var reader = await CollectAsync(await ConnectAsync("dev-1"), $"cl/{Fleet}/model/#");
        var retained = await reader.UntilCountAsync(2);
        Assert.Equal([$"cl/{Fleet}/model/m/1.0.0/chunk/0 chunk 0", $"{release} signed release 1.0.0"], retained.Order(StringComparer.Ordinal));
    }

    [MosquittoFact]
    public async Task Attack_device_forging_another_devices_retained_status_is_refused()
    {
        var status = $"cl/{Fleet}/device/dev-1/status";
        await (await ConnectAsync("dev-1")).PublishAsync(status, Encoding.UTF8.GetBytes("dev-1 online canary"), retain: true);

        await RefusedAsync(await ConnectAsync("dev-2"), status, "dev-1 online accuracy 1e300", retain: true);
        await RefusedAsync(await ConnectAsync("dev-2"), $"cl/{Fleet}/device/ghost/status", "ghost canary", retain: true);

        var reader = await CollectAsync(await ConnectAsync("agg-1"), $"cl/{Fleet}/device/+/status");
        Assert.Equal([$"{status} dev-1 online canary"], await reader.UntilCountAsync(1));
        await Task.Delay(300, TestContext.Current.CancellationToken); // a retained ghost would have come with the first
        Assert.Single(reader.Received);
    }

    [MosquittoFact]
    public async Task Attack_device_made_to_reply_into_another_devices_delta_topic_or_the_release_is_refused()
    {
        var aggregator = await ConnectAsync("agg-1");
        var deltas = await CollectAsync(aggregator, $"cl/{Fleet}/device/+/delta");
        var releases = await CollectAsync(aggregator, $"cl/{Fleet}/model/#");
        var device = await ConnectAsync("dev-1");
        var request = new TaskCompletionSource<FleetMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.MessageReceived += m =>
        {
            if (m.Topic.EndsWith("/cmd", StringComparison.Ordinal)) request.TrySetResult(m);
            return Task.CompletedTask;
        };
        await device.SubscribeAsync($"cl/{Fleet}/device/dev-1/cmd", cancellationToken: TestContext.Current.CancellationToken);
        var sender = await ConnectAsync("alice");

        foreach (var target in new[] { $"cl/{Fleet}/device/dev-2/delta", $"cl/{Fleet}/model/m/release" })
        {
            await sender.PublishAsync($"cl/{Fleet}/device/dev-1/cmd", Encoding.UTF8.GetBytes("report"), FleetQos.AtLeastOnce, responseTopic: target,
                correlationData: [1], cancellationToken: TestContext.Current.CancellationToken);
            var command = await request.Task.WaitAsync(Patience, TestContext.Current.CancellationToken);
            request = new TaskCompletionSource<FleetMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => device.ReplyAsync(command, Encoding.UTF8.GetBytes("reply as a delta")));
            Assert.Contains("NotAuthorized", refused.Message, StringComparison.Ordinal);
        }
        await device.PublishAsync($"cl/{Fleet}/device/dev-1/delta", Encoding.UTF8.GetBytes("marker"));

        Assert.Equal([$"cl/{Fleet}/device/dev-1/delta marker"], await deltas.UntilAsync("marker"));
        Assert.Empty(releases.Received);
    }

    [MosquittoFact]
    public async Task Honest_device_aggregator_and_operator_with_their_certificates_work_end_to_end()
    {
        var aggregator = await ConnectAsync("agg-1");
        var deltas = await CollectAsync(aggregator, $"$share/aggregators/cl/{Fleet}/device/+/delta");
        var device = await ConnectAsync("dev-1");
        var releases = await CollectAsync(device, $"cl/{Fleet}/model/#");
        device.MessageReceived += async m =>
        {
            if (m.Topic.EndsWith("/cmd", StringComparison.Ordinal)) await device.ReplyAsync(m, Encoding.UTF8.GetBytes("ok"));
        };
        await device.SubscribeAsync($"cl/{Fleet}/device/dev-1/cmd", cancellationToken: TestContext.Current.CancellationToken);
        var operatorClient = await ConnectAsync("alice");

        await device.PublishAsync($"cl/{Fleet}/device/dev-1/status", Encoding.UTF8.GetBytes("online"), retain: true);
        await device.PublishAsync($"cl/{Fleet}/device/dev-1/delta", Encoding.UTF8.GetBytes("delta"));
        Assert.Equal([$"cl/{Fleet}/device/dev-1/delta delta"], await deltas.UntilAsync("delta"));

        await aggregator.PublishAsync($"cl/{Fleet}/model/m/release", Encoding.UTF8.GetBytes("release"), retain: true);
        Assert.Equal([$"cl/{Fleet}/model/m/release release"], await releases.UntilAsync("release"));

        var reply = await operatorClient.RequestAsync($"cl/{Fleet}/device/dev-1/cmd", Encoding.UTF8.GetBytes("report"),
            $"cl/{Fleet}/device/dev-1/reply", Patience, TestContext.Current.CancellationToken);
        Assert.Equal("ok", Encoding.UTF8.GetString(reply.Payload));

        var fleetView = await CollectAsync(operatorClient, $"cl/{Fleet}/device/+/status");
        Assert.Equal([$"cl/{Fleet}/device/dev-1/status online"], await fleetView.UntilCountAsync(1));
    }

    private string Dir(string name) => Path.Combine(_dir, name);

    /// <summary>Runs a `cl` identity command as the binary would and requires exit code 0.</summary>
    private static async Task Cl(params string[] args)
    {
        var root = new RootCommand();
        var fleet = new Command("fleet");
        FleetIdentityCommand.AddTo(fleet);
        var device = new Command("device");
        device.Subcommands.Add(FleetIdentityCommand.Provision());
        root.Subcommands.Add(fleet);
        root.Subcommands.Add(device);
        root.Subcommands.Add(BrokerCommand.Build());
        var output = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = output });
        Assert.True(exit == 0, $"cl {string.Join(' ', args)} exited with {exit}: {output}");
    }

    private FleetMqttClientOptions Options(string clientId, FleetTlsOptions tls) => new()
    {
        ClientId = clientId,
        Host = Broker.Host,
        Port = Broker.Port,
        CleanStart = true,
        Tls = tls,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        ReconnectBaseDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>Connects with the credential `cl` issued to <paramref name="holder"/> (a directory name above).</summary>
    private async Task<FleetMqttClient> ConnectAsync(string holder)
    {
        var stem = holder switch { "agg-1" => "aggregator", "alice" => "operator", _ => "device" };
        var tls = FleetTlsFiles.Load(Path.Combine(Dir(holder), "ca.crt"), Path.Combine(Dir(holder), stem + ".crt"), Path.Combine(Dir(holder), stem + ".key"), false);
        var client = new FleetMqttClient(Options($"{holder}-{Guid.NewGuid():N}"[..20], tls));
        _clients.Add(client);
        Exception? failure = null;
        client.ConnectFailed += (ex, _) => failure = ex;
        using var cts = new CancellationTokenSource(Patience);
        try
        {
            await client.StartAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{holder} did not connect: {failure?.Message}\n{Broker.ReadLog()}");
        }
        return client;
    }

    private static async Task<Collector> CollectAsync(FleetMqttClient client, string filter)
    {
        var collector = new Collector(filter);
        client.MessageReceived += collector.OnMessage;
        await client.SubscribeAsync(filter, cancellationToken: TestContext.Current.CancellationToken);
        return collector;
    }

    private static async Task RefusedAsync(FleetMqttClient attacker, string topic, string payload, bool retain = false)
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.PublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain: retain));
        Assert.Contains("NotAuthorized", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Messages one subscription received, as "topic payload".</summary>
    private sealed class Collector(string filter)
    {
        private readonly ConcurrentQueue<string> _received = new();
        private readonly SemaphoreSlim _arrived = new(0);

        public IReadOnlyCollection<string> Received => _received;

        public Task OnMessage(FleetMessage message)
        {
            if (!ContinualLearning.Fleet.Identity.FleetAcl.Covers(filter.StartsWith("$share/", StringComparison.Ordinal) ? filter.Split('/', 3)[2] : filter, message.Topic))
                return Task.CompletedTask;
            _received.Enqueue($"{message.Topic} {Encoding.UTF8.GetString(message.Payload)}");
            _arrived.Release();
            return Task.CompletedTask;
        }

        /// <summary>Everything received up to and including the first message whose payload is <paramref name="payload"/>.</summary>
        public async Task<string[]> UntilAsync(string payload)
        {
            using var cts = new CancellationTokenSource(Patience);
            while (!_received.Any(m => m.EndsWith(" " + payload, StringComparison.Ordinal)))
                await _arrived.WaitAsync(cts.Token);
            return [.. _received];
        }

        public async Task<string[]> UntilCountAsync(int count)
        {
            using var cts = new CancellationTokenSource(Patience);
            while (_received.Count < count)
                await _arrived.WaitAsync(cts.Token);
            return [.. _received];
        }
    }
}
