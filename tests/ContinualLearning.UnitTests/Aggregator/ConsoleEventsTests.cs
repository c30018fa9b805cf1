using System.Text;
using ContinualLearning.Aggregator.Console;
using Microsoft.AspNetCore.Http;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>Server-sent events: a version change reaches a connected page, idle streams get heartbeats, a stalled client is dropped.</summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleEventsTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    [Fact]
    public async Task A_new_version_reaches_a_connected_client_between_heartbeats()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet, o => o with { Rollout = o.Rollout with { Canary = false } });
        using var response = await host.Http.GetAsync(new Uri("/api/v1/events", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        await ReadUntilAsync(reader, l => l == ": heartbeat");

        Assert.True(host.Service.Receive("d1", host.Kit.EncodeDelta("d1")).Accepted);
        Assert.True(host.Service.Receive("d2", host.Kit.EncodeDelta("d2")).Accepted);
        var created = await host.Service.AggregateAsync(force: true, ct);
        await ReadUntilAsync(reader, l => l == "event: version");
        var data = await reader.ReadLineAsync(ct);
        Assert.Contains($"\"version\":\"{created!.Version}\"", data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_dropped_once_its_queue_is_full()
    {
        var events = new ConsoleEvents(queueLength: 4, heartbeat: TimeSpan.FromMinutes(1), TimeProvider.System);
        using var aborted = new CancellationTokenSource();
        var context = new DefaultHttpContext { RequestAborted = aborted.Token };
        var stalled = new StalledStream();
        context.Response.Body = stalled;
        var stream = events.StreamAsync(context);
        await WaitUntil(() => events.Clients == 1 && stalled.Writes == 1); // the greeting, then stuck in the next write

        for (var i = 0; i < 50; i++) events.Publish(ConsoleEventKind.Device, new { i });
        Assert.Equal((0, 1L), (events.Clients, events.Dropped));
        await aborted.CancelAsync();
        await stream.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }

    private static async Task ReadUntilAsync(StreamReader reader, Func<string, bool> accept)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var seen = new StringBuilder();
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (accept(line)) return;
            seen.AppendLine(line);
        }
        Assert.Fail($"the stream ended without the awaited line; it sent:\n{seen}");
    }

    /// <summary>A response body whose client stopped reading: the first write goes through, every later one hangs until cancelled.</summary>
    private sealed class StalledStream : MemoryStream
    {
        private int _writes;

        public int Writes => Volatile.Read(ref _writes);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _writes) > 1) await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
