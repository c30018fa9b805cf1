using System.Text;
using System.Threading.Channels;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>
/// The ACL attacks replayed against the embedded broker in its fleet mode (what <c>cl demo</c> runs): on the open
/// broker every one of them succeeds. Each test uses its own device ids; the broker, CA and fleet are shared.
/// </summary>
public sealed class SecureBrokerTests(SecureEmbeddedBrokerFixture fixture) : IClassFixture<SecureEmbeddedBrokerFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly byte[] Junk = Encoding.UTF8.GetBytes("not from you");
    private readonly List<FleetMqttClient> _clients = [];
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    private string Fleet => fixture.Fleet;

    private FleetIdentity Device(string name) => new(FleetRole.Device, $"{name}-{_run}");

    private static FleetIdentity Aggregator => new(FleetRole.Aggregator, "main");

    private static FleetIdentity Operator => new(FleetRole.Operator, "alice");

    private FleetMqttClient Client(FleetIdentity? identity, string? clientId = null)
    {
        var client = new FleetMqttClient(fixture.ClientOptions(identity, clientId));
        _clients.Add(client);
        return client;
    }

    private async Task<FleetMqttClient> ConnectedAsync(FleetIdentity identity)
    {
        var client = Client(identity);
        using var cts = new CancellationTokenSource(Patience);
        await client.StartAsync(cts.Token);
        return client;
    }

    private static Channel<FleetMessage> Inbox(FleetMqttClient client)
    {
        var inbox = Channel.CreateUnbounded<FleetMessage>();
        client.MessageReceived += m => inbox.Writer.WriteAsync(m).AsTask();
        return inbox;
    }

    private static async Task<FleetMessage> NextAsync(Channel<FleetMessage> inbox)
    {
        using var cts = new CancellationTokenSource(Patience);
        return await inbox.Reader.ReadAsync(cts.Token);
    }

    /// <summary>The first connect attempt's failure; the client never connects.</summary>
    private static async Task<Exception> RefusedAsync(FleetMqttClient client)
    {
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectFailed += (ex, _) => failed.TrySetResult(ex);
        using var cts = new CancellationTokenSource(Patience);
        var start = client.StartAsync(cts.Token);
        var error = await failed.Task.WaitAsync(Patience);
        Assert.False(client.IsConnected);
        Assert.Equal(0, client.ConnectCount);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start);
        await client.StopAsync();
        return error;
    }

    public ValueTask InitializeAsync()
    {
        fixture.Broker.ClearErrors();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _clients) await c.DisposeAsync();
        var errors = fixture.Broker.Errors;
        Assert.True(errors.Count == 0, "The broker logged errors:\n" + string.Join("\n", errors));
    }

    [Fact]
    public async Task Attack_client_without_a_certificate_is_refused()
    {
        var before = fixture.Broker.Denials.RefusedConnections;

        await RefusedAsync(Client(identity: null, clientId: $"anon-{_run}"));

        Assert.True(fixture.Broker.Denials.RefusedConnections > before);
    }

    [Fact]
    public async Task Attack_certificate_from_another_CA_with_the_same_fleet_and_CN_is_refused()
    {
        using var rogue = FleetCertificateAuthority.Create(Fleet);
        var victim = Device("victim");
        var options = fixture.ClientOptions(victim);
        options = options with { Tls = options.Tls! with { ClientCertificates = [rogue.Issue(victim)] } };
        var client = new FleetMqttClient(options);
        _clients.Add(client);
        var before = fixture.Broker.Denials.RefusedConnections;

        await RefusedAsync(client);

        Assert.True(fixture.Broker.Denials.RefusedConnections > before);
    }

    [Fact]
    public async Task Attack_plain_tcp_client_on_the_broker_port_gets_no_session()
    {
        var options = fixture.ClientOptions(identity: null, clientId: $"plain-{_run}") with { Tls = null };
        var client = new FleetMqttClient(options);
        _clients.Add(client);

        await RefusedAsync(client);
    }

    [Fact]
    public async Task Attack_device_using_another_devices_client_id_to_take_its_session_is_refused()
    {
        var victim = Device("victim");
        var before = fixture.Broker.Denials.RefusedConnections;

        await RefusedAsync(Client(Device("mallory"), clientId: victim.Name));

        Assert.True(fixture.Broker.Denials.RefusedConnections > before);
        await ConnectedAsync(victim); // the victim itself still gets its session
    }

    [Fact]
    public async Task Attack_operator_asking_for_a_session_another_identity_owns_is_refused()
    {
        var aggregator = Client(Aggregator, clientId: $"agg-{_run}");
        await aggregator.StartAsync(TestContext.Current.CancellationToken);
        await aggregator.StopAsync();

        await RefusedAsync(Client(Operator, clientId: $"agg-{_run}"));
    }

    [Fact]
    public async Task Attack_device_publishing_on_another_devices_delta_topic_is_not_delivered()
    {
        var mallory = Device("mallory");
        var victim = Device("victim");
        var aggregator = await ConnectedAsync(Aggregator);
        var deltas = Inbox(aggregator);
        await aggregator.SubscribeAsync(FleetTopics.AllDevices(Fleet, FleetTopicKind.DeviceDelta));
        var attacker = await ConnectedAsync(mallory);
        var before = fixture.Broker.Denials.DeniedPublishes;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.PublishAsync(FleetTopics.DeltaTopic(Fleet, victim.Name), Junk));

        Assert.Contains("NotAuthorized", refused.Message);
        Assert.Equal(before + 1, fixture.Broker.Denials.DeniedPublishes);
        // Its own delta still goes through, and is the first delta the aggregator sees.
        await attacker.PublishAsync(FleetTopics.DeltaTopic(Fleet, mallory.Name), [1, 2, 3]);
        Assert.Equal(FleetTopics.DeltaTopic(Fleet, mallory.Name), (await NextAsync(deltas)).Topic);
    }

    [Fact]
    public async Task Attack_device_publishing_a_retained_release_is_not_delivered_nor_retained()
    {
        var model = $"m{_run}";
        var attacker = await ConnectedAsync(Device("mallory"));

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.PublishAsync(FleetTopics.Release(Fleet, model), Junk, retain: true));
        Assert.Contains("NotAuthorized", refused.Message);

        var aggregator = await ConnectedAsync(Aggregator);
        await aggregator.PublishAsync(FleetTopics.Release(Fleet, model), Encoding.UTF8.GetBytes("the real release"), retain: true);
        var device = await ConnectedAsync(Device("honest"));
        var releases = Inbox(device);
        await device.SubscribeAsync(FleetTopics.Release(Fleet, model));
        Assert.Equal("the real release", Encoding.UTF8.GetString((await NextAsync(releases)).Payload));
    }

    [Fact]
    public async Task Attack_device_subscribing_to_another_devices_commands_is_refused()
    {
        var victim = Device("victim");
        var attacker = await ConnectedAsync(Device("mallory"));
        var before = fixture.Broker.Denials.DeniedSubscriptions;

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.SubscribeAsync(FleetTopics.Command(Fleet, victim.Name)));
        Assert.Contains("NotAuthorized", refused.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.SubscribeAsync(FleetTopics.AllDevices(Fleet, FleetTopicKind.DeviceCommand)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.SubscribeAsync($"{FleetTopics.Root}/{Fleet}/#"));

        Assert.Equal(before + 3, fixture.Broker.Denials.DeniedSubscriptions);
    }

    [Fact]
    public async Task Attack_device_sending_commands_to_another_device_is_not_delivered()
    {
        var victim = Device("victim");
        var target = await ConnectedAsync(victim);
        var commands = Inbox(target);
        await target.SubscribeAsync(FleetTopics.Command(Fleet, victim.Name));
        var attacker = await ConnectedAsync(Device("mallory"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => attacker.PublishAsync(FleetTopics.Command(Fleet, victim.Name), Encoding.UTF8.GetBytes("""{"command":"wipe-data"}""")));

        var @operator = await ConnectedAsync(Operator);
        await @operator.PublishAsync(FleetTopics.Command(Fleet, victim.Name), Encoding.UTF8.GetBytes("""{"command":"status"}"""));
        Assert.Contains("status", Encoding.UTF8.GetString((await NextAsync(commands)).Payload), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attack_device_last_will_on_another_devices_status_is_not_delivered()
    {
        var victim = Device("victim");
        var mallory = Device("mallory");
        var aggregator = await ConnectedAsync(Aggregator);
        var statuses = Inbox(aggregator);
        await aggregator.SubscribeAsync(FleetTopics.AllDevices(Fleet, FleetTopicKind.DeviceStatus));
        var attacker = new FleetMqttClient(fixture.ClientOptions(mallory) with
        {
            Will = new FleetWill(FleetTopics.Status(Fleet, victim.Name), FleetJson.Serialize(DeviceStatus.Offline(victim.Name))),
        });
        _clients.Add(attacker);
        await attacker.StartAsync(TestContext.Current.CancellationToken);
        var before = fixture.Broker.Denials.DeniedPublishes;

        await attacker.AbortAsync();
        await WaitUntil(() => fixture.Broker.Denials.DeniedPublishes > before);

        var marker = await ConnectedAsync(victim);
        await marker.PublishAsync(FleetTopics.Status(Fleet, victim.Name), Encoding.UTF8.GetBytes("marker"), retain: false);
        Assert.Equal("marker", Encoding.UTF8.GetString((await NextAsync(statuses)).Payload));
    }

    [Fact]
    public async Task Honest_fleet_traffic_flows_over_mutual_TLS()
    {
        var id = Device("honest");
        var device = await ConnectedAsync(id);
        var deviceInbox = Inbox(device);
        await device.SubscribeAsync(FleetTopics.Command(Fleet, id.Name));
        await device.SubscribeAsync(FleetTopics.Release(Fleet, $"m{_run}"));
        var aggregator = await ConnectedAsync(Aggregator);
        var aggregatorInbox = Inbox(aggregator);
        await aggregator.SubscribeAsync(FleetTopics.AllDevices(Fleet, FleetTopicKind.DeviceDelta));
        var @operator = await ConnectedAsync(Operator);
        var before = fixture.Broker.Denials;

        await device.PublishAsync(FleetTopics.DeltaTopic(Fleet, id.Name), [7]);
        Assert.Equal([7], (await NextAsync(aggregatorInbox)).Payload);
        await aggregator.PublishAsync(FleetTopics.Release(Fleet, $"m{_run}"), [8], retain: true);
        Assert.Equal([8], (await NextAsync(deviceInbox)).Payload);
        await @operator.PublishAsync(FleetTopics.Command(Fleet, id.Name), [9]);
        Assert.Equal([9], (await NextAsync(deviceInbox)).Payload);

        Assert.Equal(before, fixture.Broker.Denials);
    }
}
