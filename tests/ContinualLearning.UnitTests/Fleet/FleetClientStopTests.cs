using ContinualLearning.Fleet.Client;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>
/// MQTTnet's disconnect waits for the message handler running at that moment, without a bound: a stop of a client whose
/// handler is stuck ends after <see cref="FleetMqttClientOptions.DisconnectTimeout"/> with an error saying so, instead
/// of holding its caller (a service's stop, a test's dispose) for ever.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class FleetClientStopTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    [Fact]
    public async Task A_stop_while_a_handler_is_stuck_times_out_naming_the_handler_and_the_client_is_released()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = $"cl/{Fleet}/stuck/in";
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiver = Client("receiver", o => o with { DisconnectTimeout = TimeSpan.FromMilliseconds(500) });
        receiver.MessageReceived += async _ =>
        {
            entered.TrySetResult();
            await never.Task.WaitAsync(2 * Patience, ct); // waits for something that does not come (bounded only for the test's sake)
        };
        await receiver.StartAsync(ct);
        await receiver.SubscribeAsync(topic, FleetQos.AtLeastOnce, ct);
        var sender = Client("sender");
        await sender.StartAsync(ct);
        await sender.PublishAsync(topic, [1], FleetQos.AtLeastOnce, cancellationToken: ct);
        await entered.Task.WaitAsync(Patience, ct);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => receiver.DisposeAsync().AsTask().WaitAsync(Patience, ct));

        Assert.Contains("did not disconnect within 0.5 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("handler", error.Message, StringComparison.Ordinal);
        never.TrySetResult();
    }
}
