using System.Collections.Concurrent;
using ContinualLearning.Device.Agent;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// Live counters of one simulated device, fed by its runtime's and agent's events. The UI reads them while they
/// change (single word-sized fields, so a reading is at worst one update old).
/// </summary>
internal sealed class DeviceStats(DeviceShard shard)
{
    private readonly Lock _normLock = new();

    public DeviceShard Shard { get; } = shard;

    public string Id => Shard.DeviceId;

    /// <summary>The model the device serves: the base model's name, or a cluster model's (m.c{k}) with <c>--clusters</c>; null until a release replaced the base bundle.</summary>
    public volatile string? ModelName;
    public volatile string ModelVersion = DemoScenario.BaseVersion;

    /// <summary>What the live table shows as the served model: the version, prefixed by the cluster (c1 …) for a cluster model.</summary>
    public string Served => ModelName is { } m && ContinualLearning.Deltas.ClusterNames.Parse(m).Cluster is var k and not 0 ? $"c{k} {ModelVersion}" : ModelVersion;
    public long Samples;
    public int Concept = DemoScenario.BaseConcept;

    /// <summary>What the live table shows as the device's condition: its SEA concept or its voice family.</summary>
    public string Condition => Shard.Voice ?? $"SEA {Concept}";

    /// <summary>Prequential (test-then-train) accuracy over the last window of labelled samples.</summary>
    public double Accuracy;
    public int TrainingRuns;
    public int Promotions;
    public int DeltasSent;
    public long BytesSent;

    /// <summary>Sum of the L2 norms of the deltas sent (after top-k and quantisation), for the mean in the summary.</summary>
    public double DeltaNormSum;
    public int DeltaNormCount;
    public int ReleasesInstalled;
    public volatile bool Finished;
    public volatile bool Online;

    /// <summary>The device's line in the summary.</summary>
    public DeviceSummary Summary()
    {
        double meanNorm;
        lock (_normLock) meanNorm = DeltaNormCount > 0 ? DeltaNormSum / DeltaNormCount : double.NaN;
        var role = Shard.Poisoned ? "poisoned" : Shard.Canary ? "canary" : "all";
        return new DeviceSummary(Id, role, TrainingRuns, Promotions, DeltasSent, BytesSent, meanNorm, ReleasesInstalled, ModelVersion) { ServedModel = ModelName ?? "" };
    }

    /// <summary>Counts a delta the broker acknowledged (the agent's receipt: size and norm as published).</summary>
    public void CountDelta(DeltaReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        Interlocked.Increment(ref DeltasSent);
        Interlocked.Add(ref BytesSent, receipt.Bytes);
        if (!double.IsFinite(receipt.Norm)) return;
        lock (_normLock) (DeltaNormSum, DeltaNormCount) = (DeltaNormSum + receipt.Norm, DeltaNormCount + 1);
    }
}

/// <summary>What happened to one global version.</summary>
internal enum VersionOutcome
{
    Base,
    Canary,
    Promoted,
    RolledBack,

    /// <summary>Refused by the aggregator's holdout gate; never published.</summary>
    Rejected,

    /// <summary>The first version of a cluster the concept-aware aggregation created (<c>--clusters</c>).</summary>
    ClusterCreated,
}

/// <summary>One global version produced by the aggregator, of the model or (with <c>--clusters</c>) of one of its cluster models.</summary>
internal sealed record VersionRecord(string Model, string Version, string? Parent, int Deltas, int Devices, long Samples, DateTimeOffset CreatedAt)
{
    public VersionOutcome Outcome { get; set; } = VersionOutcome.Canary;

    /// <summary>Canary cohort's accuracy on this version vs the control cohort's on the previous one, when judged.</summary>
    public double? CanaryAccuracy { get; set; }

    public double? ControlAccuracy { get; set; }
}

/// <summary>Live aggregator counters and the version history, shared with the UI and the summary.</summary>
internal sealed class AggregatorStats
{
    private readonly Lock _lock = new();
    private readonly List<VersionRecord> _versions = [];

    public int DeltasReceived;
    public int DeltasAccepted;
    public int DeltasRejected;
    public int Buffered;
    public volatile string CurrentVersion = DemoScenario.BaseVersion;
    public volatile string CanaryState = "idle";

    /// <summary>Clusters in the fleet's directory (1 without <c>--clusters</c>).</summary>
    public int LiveClusters = 1;

    /// <summary>Reasons deltas were rejected, counted ("stale base", "duplicate", ...).</summary>
    public ConcurrentDictionary<string, int> RejectReasons { get; } = new(StringComparer.Ordinal);

    public void AddVersion(VersionRecord record)
    {
        lock (_lock) _versions.Add(record);
    }

    /// <summary>Replaces the history with the registry's (the real aggregator keeps it there).</summary>
    public void SetVersions(IReadOnlyList<VersionRecord> records)
    {
        lock (_lock)
        {
            _versions.Clear();
            _versions.AddRange(records);
        }
    }

    public IReadOnlyList<VersionRecord> Versions
    {
        get
        {
            lock (_lock) return _versions.ToArray();
        }
    }

    public int Rollbacks => Versions.Count(v => v.Outcome == VersionOutcome.RolledBack);

    public int Promotions => Versions.Count(v => v.Outcome == VersionOutcome.Promoted);
}

/// <summary>Everything the UI shows: per-device counters, aggregator counters and a short event log.</summary>
internal sealed class DemoState
{
    private readonly ConcurrentQueue<string> _events = new();
    private readonly Action<string>? _onEvent;

    public DemoState(IReadOnlyList<DeviceShard> shards, Action<string>? onEvent = null)
    {
        Devices = shards.Select(s => new DeviceStats(s)).ToArray();
        _onEvent = onEvent;
    }

    public IReadOnlyList<DeviceStats> Devices { get; }

    public AggregatorStats Aggregator { get; } = new();

    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    public TimeSpan Elapsed => DateTimeOffset.UtcNow - StartedAt;

    public void Event(string message)
    {
        var line = $"{Elapsed.TotalSeconds,5:0.0}s  {message}";
        _events.Enqueue(line);
        while (_events.Count > 200) _events.TryDequeue(out _);
        _onEvent?.Invoke(line);
    }

    public IReadOnlyList<string> RecentEvents(int count) => _events.TakeLast(count).ToArray();

    public IReadOnlyList<string> AllEvents => _events.ToArray();
}
