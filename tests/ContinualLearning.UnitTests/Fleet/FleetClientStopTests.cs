using ContinualLearning.Fleet.Client;

namespace ContinualLearning.UnitTests.Fleet;

/// <summary>
/// The client's waits end with an error saying what did not come, instead of holding their caller (a service's stop, a
/// test's dispose) for ever: MQTTnet's disconnect waits for the message handler running at that moment, without a bound,
/// and a publish without a token used to send again for ever while its PUBACK did not come.
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

    [Fact]
    public async Task A_publish_whose_puback_does_not_come_times_out_instead_of_resending_for_ever()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = $"cl/{Fleet}/window/in";
        using var gate = new SemaphoreSlim(0);
        // A receive window of one, held by a handler: the client reads nothing more, the PUBACK of its own publish included.
        var client = Client("held", o => o with { ReceiveMaximum = 1, PublishTimeout = TimeSpan.FromSeconds(3) });
        var handling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageReceived += async _ =>
        {
            handling.TrySetResult();
            await gate.WaitAsync(2 * Patience, ct);
        };
        await client.StartAsync(ct);
        await client.SubscribeAsync(topic, FleetQos.AtLeastOnce, ct);
        var sender = Client("sender");
        await sender.StartAsync(ct);
        await sender.PublishAsync(topic, [1], FleetQos.AtLeastOnce, cancellationToken: ct);
        await handling.Task.WaitAsync(Patience, ct);

        try
        {
            var error = await Assert.ThrowsAsync<TimeoutException>(() => client.PublishAsync($"cl/{Fleet}/out", [2]).WaitAsync(Patience, ct));

            Assert.Contains("did not acknowledge the publish", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            gate.Release();
        }
    }
}
