namespace ContinualLearning.Aggregator;

/// <summary>How the aggregator takes messages off the broker (docs/aggregator.md, "Acknowledgement and limits").</summary>
public sealed record InboxOptions
{
    /// <summary>
    /// Largest delta payload accepted (bytes), or null (default) for the bound derived from the served head
    /// (<see cref="ContinualLearning.Fleet.FleetLimits.MaxDeltaPayloadBytes"/>). Bigger deltas are refused before
    /// decoding; the aggregator's MQTT maximum packet size follows it.
    /// </summary>
    public int? MaxDeltaBytes { get; init; }

    /// <summary>First wait before consuming again after the registry failed to store a message; doubles per failure.</summary>
    public TimeSpan StorageRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Ceiling of <see cref="StorageRetryDelay"/>'s doubling.</summary>
    public TimeSpan StorageRetryMaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>False acknowledges deltas on receipt, stored or not (the behaviour before the acknowledgement after store); benchmarks only.</summary>
    internal bool AcknowledgeAfterStore { get; init; } = true;

    /// <summary>Largest batch of deltas stored in one registry transaction (group commit); the default.</summary>
    public const int DefaultBatchMax = 256;

    /// <summary>
    /// Largest <see cref="BatchMax"/> allowed: the aggregator's MQTT 5 Receive Maximum is four batches and cannot pass
    /// 65,535, and a batch the broker can never fill would only wait out <see cref="BatchLinger"/> every time.
    /// </summary>
    public const int MaxBatchMax = 16_383;

    /// <summary>
    /// Most deltas stored in one registry transaction and acknowledged together after its commit (group commit). 1 stores
    /// each delta in its own transaction inside the MQTT handler and acknowledges it when the handler returns.
    /// </summary>
    public int BatchMax { get; init; } = DefaultBatchMax;

    /// <summary>How long a batch waits for more deltas after its first one before it is stored with what it has.</summary>
    public TimeSpan BatchLinger { get; init; } = TimeSpan.FromMilliseconds(2);
}

/// <summary>Bounds on what the registry keeps (docs/aggregator.md, "Retention").</summary>
public sealed record RetentionOptions
{
    /// <summary>Most rows the <c>rejections</c> table keeps; the oldest go first.</summary>
    public int RejectionsMaxRows { get; init; } = 100_000;

    /// <summary>Rejections older than this are deleted.</summary>
    public TimeSpan RejectionsMaxAge { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Rejections of one device recorded (row and log line) in a burst before the rate limit applies; the meter counts every one.</summary>
    public int RejectionBurst { get; init; } = 20;

    /// <summary>Rejections of one device recorded per minute after its burst; the rest are summed into one "suppressed" line.</summary>
    public double RejectionsPerMinute { get; init; } = 6;

    /// <summary>
    /// Versions whose artifacts (and extracted caches) are kept besides the current release, a running canary and a
    /// pending candidate: the newest K. Older ones are deleted by the periodic sweep; they can no longer be rolled back to.
    /// </summary>
    public int KeepVersions { get; init; } = 10;

    /// <summary>How often the retention sweep runs.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(10);
}
