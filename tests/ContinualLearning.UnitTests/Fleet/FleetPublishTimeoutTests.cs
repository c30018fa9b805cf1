using System.Net;
using ContinualLearning.Fleet.Client;
using MQTTnet.Server;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>A broker that does not answer a publish: the client gives up after PublishTimeout and says so.</summary>
public sealed class FleetPublishTimeoutTests
{
    [Fact]
    public async Task A_publish_the_broker_does_not_acknowledge_fails_after_the_publish_timeout_and_the_connection_still_works()
    {
        var port = MosquittoBroker.FreePort();
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(port).Build());
        using var held = new SemaphoreSlim(0);
        // The broker processes this client's packets in order: holding one PUBLISH holds its PUBACK (as a broker does
        // that answers only after a backlog it queued for the client).
        server.InterceptingPublishAsync += async e =>
        {
            if (e.ApplicationMessage.Topic == "held") await held.WaitAsync(TimeSpan.FromSeconds(30));
        };
        await server.StartAsync();
        try
        {
            await using var client = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "publish-timeout", Port = port, PublishTimeout = TimeSpan.FromMilliseconds(500) });
            await client.StartAsync(TestContext.Current.CancellationToken);

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var ex = await Assert.ThrowsAsync<TimeoutException>(() => client.PublishAsync("held", [1]));
            Assert.Contains("'held'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("PublishTimeout", ex.Message, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"gave up only after {clock.Elapsed}");

            held.Release();
            await client.PublishAsync("answered", [2]).WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
            Assert.True(client.IsConnected);
        }
        finally
        {
            await server.StopAsync();
        }
    }
}
