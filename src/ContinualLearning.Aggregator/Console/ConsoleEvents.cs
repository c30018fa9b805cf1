using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace ContinualLearning.Aggregator.Console;

/// <summary>What changed, for the page to re-fetch: the SSE event names of <c>GET /api/v1/events</c>.</summary>
internal static class ConsoleEventKind
{
    public const string Device = "device";
    public const string Version = "version";
    public const string Rollout = "rollout";
    public const string Decision = "decision";
    public const string Rejection = "rejection";
    public const string Audit = "audit";
    public const string Overview = "overview";
}

/// <summary>
/// Server-sent events to every connected page. Each client has a bounded queue: a client that falls
/// <see cref="ConsoleOptions.EventQueueLength"/> events behind is disconnected (it reconnects and re-fetches), so a slow
/// or stalled reader never makes the aggregator buffer without end. Frequent changes (a device's status or telemetry,
/// 10,000 of them a minute) are coalesced: <see cref="Mark"/> sets a flag that <see cref="FlushMarked"/> turns into one
/// event per kind; rare ones (a version, a decision) go out at once with <see cref="Publish"/>.
/// </summary>
internal sealed class ConsoleEvents(int queueLength, TimeSpan heartbeat, TimeProvider time)
{
    private readonly ConcurrentDictionary<long, Channel<string>> _clients = new();
    private readonly ConcurrentDictionary<string, byte> _marked = new(StringComparer.Ordinal);
    private long _nextClient;
    private long _dropped;

    /// <summary>Clients connected now.</summary>
    public int Clients => _clients.Count;

    /// <summary>Clients disconnected for falling behind, since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Sends <paramref name="kind"/> with <paramref name="data"/> to every client now.</summary>
    public void Publish<T>(string kind, T data)
    {
        var frame = $"event: {kind}\ndata: {JsonSerializer.Serialize(data, ConsoleJson.Options)}\n\n";
        foreach (var (id, channel) in _clients)
        {
            if (channel.Writer.TryWrite(frame)) continue;
            // Full: this client is too slow. Ending its stream frees the queue; the page's EventSource reconnects.
            if (_clients.TryRemove(id, out _))
            {
                channel.Writer.TryComplete();
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    /// <summary>Notes that something of <paramref name="kind"/> changed; sent by the next <see cref="FlushMarked"/>.</summary>
    public void Mark(string kind) => _marked.TryAdd(kind, 0);

    /// <summary>One event per kind marked since the last flush.</summary>
    public void FlushMarked()
    {
        foreach (var kind in _marked.Keys)
        {
            if (_marked.TryRemove(kind, out _)) Publish(kind, new { kind });
        }
    }

    /// <summary>Streams events to one client until it goes away or is dropped, with a comment line every heartbeat.</summary>
    public async Task StreamAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(queueLength) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        var id = Interlocked.Increment(ref _nextClient);
        _clients[id] = channel;
        var aborted = context.RequestAborted;
        try
        {
            await Write(response, ": connected\nretry: 3000\n\n", aborted).ConfigureAwait(false);
            while (!aborted.IsCancellationRequested)
            {
                using var beat = new CancellationTokenSource(heartbeat, time);
                using var either = CancellationTokenSource.CreateLinkedTokenSource(aborted, beat.Token);
                bool more;
                try
                {
                    more = await channel.Reader.WaitToReadAsync(either.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    await Write(response, ": heartbeat\n\n", aborted).ConfigureAwait(false);
                    continue;
                }
                if (!more) return; // dropped for falling behind
                while (channel.Reader.TryRead(out var frame)) await Write(response, frame, aborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            _clients.TryRemove(id, out _);
        }
    }

    private static async Task Write(HttpResponse response, string text, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
