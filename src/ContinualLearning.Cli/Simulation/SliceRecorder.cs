using System.Collections.Concurrent;

namespace ContinualLearning.Cli.Simulation;

/// <summary>What one release did in one slice: when its message first arrived and when each device installed it (Unix ms).</summary>
internal sealed record ReleaseTrace(string Version, long FirstSeenMs, long[] InstallMs);

/// <summary>Everything one process measured; a child writes it as JSON and the parent merges the slices.</summary>
internal sealed record SliceReport
{
    public required string Slice { get; init; }

    public int Devices { get; init; }

    public int Connected { get; init; }

    public int ConnectFailures { get; init; }

    public double ConnectSeconds { get; init; }

    public long SendStartMs { get; init; }

    public long SendEndMs { get; init; }

    public int DeltaBytes { get; init; }

    public int PublishFailures { get; init; }

    public int Refusals { get; init; }

    public string? LastRefusal { get; init; }

    public int FullInstalls { get; init; }

    public int VerifiedInstalls { get; init; }

    /// <summary>Delta id → Unix ms when its publish started.</summary>
    public required Dictionary<string, long> Published { get; init; }

    public required ReleaseTrace[] Releases { get; init; }

    /// <summary>Device id → the version it ran at the end (null: never installed one).</summary>
    public required Dictionary<string, string?> Installed { get; init; }
}

/// <summary>Thread-safe counters and timestamps of one slice while it runs.</summary>
internal sealed class SliceRecorder(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _published = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _firstSeen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<long>> _installs = new(StringComparer.Ordinal);
    private int _publishFailures;
    private int _refusals;
    private int _fullInstalls;
    private int _verifiedInstalls;
    private int _deltaBytes;

    public long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public int PublishedCount => _published.Count;

    public int PublishFailures => Volatile.Read(ref _publishFailures);

    public int Refusals => Volatile.Read(ref _refusals);

    public string? LastRefusal { get; private set; }

    /// <summary>The newest release message seen (by sequence), so the slice can tell when it reached every device.</summary>
    public (long Sequence, string Version)? Newest { get; private set; }

    private readonly Lock _newestLock = new();

    public void Published(Guid deltaId, long startedMs, int bytes)
    {
        _published[deltaId.ToString()] = startedMs;
        Volatile.Write(ref _deltaBytes, bytes);
    }

    public void PublishFailed() => Interlocked.Increment(ref _publishFailures);

    public void ReleaseSeen(string version, long sequence)
    {
        _firstSeen.TryAdd(version, NowMs);
        lock (_newestLock)
        {
            if (Newest is not { } newest || sequence > newest.Sequence) Newest = (sequence, version);
        }
    }

    public void Installed(string version, bool full)
    {
        _installs.GetOrAdd(version, _ => new ConcurrentQueue<long>()).Enqueue(NowMs);
        Interlocked.Increment(ref full ? ref _fullInstalls : ref _verifiedInstalls);
    }

    public void Refused(string reason)
    {
        Interlocked.Increment(ref _refusals);
        LastRefusal = reason;
    }

    public int InstallCount(string version) => _installs.TryGetValue(version, out var q) ? q.Count : 0;

    public SliceReport Report(SliceSpec slice, int devices, int connected, int connectFailures, double connectSeconds, long sendStart, long sendEnd, Dictionary<string, string?> installed) => new()
    {
        Slice = slice.ToString(),
        Devices = devices,
        Connected = connected,
        ConnectFailures = connectFailures,
        ConnectSeconds = connectSeconds,
        SendStartMs = sendStart,
        SendEndMs = sendEnd,
        DeltaBytes = Volatile.Read(ref _deltaBytes),
        PublishFailures = PublishFailures,
        Refusals = Refusals,
        LastRefusal = LastRefusal,
        FullInstalls = Volatile.Read(ref _fullInstalls),
        VerifiedInstalls = Volatile.Read(ref _verifiedInstalls),
        Published = new Dictionary<string, long>(_published, StringComparer.Ordinal),
        Releases = _firstSeen.Select(kv => new ReleaseTrace(kv.Key, kv.Value, _installs.TryGetValue(kv.Key, out var q) ? q.ToArray() : [])).ToArray(),
        Installed = installed,
    };
}
