using ContinualLearning.Replay;

namespace ContinualLearning.Storage;

/// <summary>What a sample's label is, store-wide.</summary>
public enum StoreLabelKind
{
    /// <summary>A class index in 0 … <see cref="SampleStoreOptions.LabelCount"/>−1.</summary>
    Class,
    /// <summary>Exactly <see cref="SampleStoreOptions.LabelCount"/> finite real values (regression, multi-label).</summary>
    Values,
}

/// <summary>
/// Immutable settings of a <see cref="SampleStore"/>. Create with an object initialiser or <c>with</c>;
/// <see cref="Validate"/> (called by the store's constructor) names any field that is out of range.
/// </summary>
public sealed record SampleStoreOptions
{
    /// <summary>Path of the database file; null means <see cref="DefaultDatabasePath"/>.</summary>
    public string? DatabasePath { get; init; }

    /// <summary>
    /// Allows a database on a persistent filesystem (disk, SD card, eMMC). Off by default because raw samples
    /// must never reach persistent storage; turn on only for development or when the data may be kept.
    /// </summary>
    public bool AllowPersistent { get; init; }

    /// <summary>
    /// Deletes the database file (and its WAL/SHM files) when the store is disposed. Off by default: the file lives in
    /// RAM anyway, and a daemon restarted within the same boot should still join labels to the predictions it logged
    /// before the restart. TTL and the bounds still apply to what is kept. Turn on for tests and one-shot runs.
    /// </summary>
    public bool DeleteOnDispose { get; init; }

    /// <summary>Features every sample must have; null accepts any count up to <see cref="MaxFeatureCount"/>.</summary>
    public int? FeatureCount { get; init; }

    /// <summary>Upper bound on features per sample (guards against oversize blobs). Default 65,536 (256 KiB).</summary>
    public int MaxFeatureCount { get; init; } = 65_536;

    /// <summary>Upper bound on floats in a served prediction. Default 4,096.</summary>
    public int MaxPredictionCount { get; init; } = 4_096;

    /// <summary>Upper bound on the model version string length. Default 128.</summary>
    public int MaxModelVersionLength { get; init; } = 128;

    /// <summary>Class indices (classification) or real values (regression). Default class.</summary>
    public StoreLabelKind LabelKind { get; init; } = StoreLabelKind.Class;

    /// <summary>Number of classes (<see cref="StoreLabelKind.Class"/>) or values per label (<see cref="StoreLabelKind.Values"/>). Required.</summary>
    public int LabelCount { get; init; }

    /// <summary>Maximum sample rows; the oldest are evicted on insert beyond it. Default 100,000.</summary>
    public int MaxRows { get; init; } = 100_000;

    /// <summary>Maximum accounted bytes of sample rows (blobs plus a fixed per-row overhead); oldest evicted beyond it. Default 64 MiB.</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Age after which a sample expires (unlabelled or not). Default 24 h; <see cref="Timeout.InfiniteTimeSpan"/> disables expiry.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How often the store deletes rows older than <see cref="Ttl"/> on its own, so an expired sample leaves RAM without
    /// waiting for a training run or a reopen. Null (default) = <see cref="EffectiveSweepInterval"/>'s choice: a quarter
    /// of the TTL, between 1 second and 5 minutes. <see cref="Timeout.InfiniteTimeSpan"/> turns the sweep off.
    /// </summary>
    public TimeSpan? ExpirySweepInterval { get; init; }

    /// <summary>The sweep period actually used; <see cref="Timeout.InfiniteTimeSpan"/> when there is no TTL or no sweep.</summary>
    public TimeSpan EffectiveSweepInterval =>
        Ttl == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan
        : ExpirySweepInterval ?? TimeSpan.FromTicks(Math.Clamp(Ttl.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.FromMinutes(5).Ticks));

    /// <summary>Replay buffer slots; 0 disables the replay buffer. Default 1,000.</summary>
    public int ReplayCapacity { get; init; } = 1_000;

    /// <summary>Which samples the replay buffer keeps. Default reservoir.</summary>
    public ReplayPolicyKind ReplayPolicy { get; init; } = ReplayPolicyKind.Reservoir;

    /// <summary>Seed of the replay policy's random stream.</summary>
    public int ReplaySeed { get; init; }

    /// <summary>
    /// $XDG_RUNTIME_DIR/continual-learning/samples.db when XDG_RUNTIME_DIR is set (systemd's per-user tmpfs),
    /// else /dev/shm/continual-learning-&lt;uid&gt;/samples.db.
    /// </summary>
    public static string DefaultDatabasePath
    {
        get
        {
            var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
            if (!string.IsNullOrWhiteSpace(runtime) && Path.IsPathFullyQualified(runtime))
                return Path.Combine(runtime, "continual-learning", "samples.db");
            return Path.Combine("/dev/shm", $"continual-learning-{CurrentUserId()}", "samples.db");
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field, its value and the rule.</summary>
    public void Validate()
    {
        static void Check(bool ok, string field, object? value, string rule)
        {
            if (!ok) throw new ArgumentException($"Sample store option '{field}' = {value ?? "null"} is invalid: {rule}.", field);
        }
        Check(DatabasePath is null || (DatabasePath.Length > 0 && !DatabasePath.Contains('\0')), nameof(DatabasePath), DatabasePath, "must be a file path (or null for the default)");
        Check(MaxFeatureCount >= 1, nameof(MaxFeatureCount), MaxFeatureCount, "must be at least 1");
        Check(FeatureCount is null || (FeatureCount >= 1 && FeatureCount <= MaxFeatureCount), nameof(FeatureCount), FeatureCount, $"must be null or in 1…{MaxFeatureCount} (MaxFeatureCount)");
        Check(MaxPredictionCount >= 0, nameof(MaxPredictionCount), MaxPredictionCount, "must be >= 0");
        Check(MaxModelVersionLength >= 1, nameof(MaxModelVersionLength), MaxModelVersionLength, "must be at least 1");
        Check(Enum.IsDefined(LabelKind), nameof(LabelKind), LabelKind, "must be Class or Values");
        Check(LabelCount >= 1, nameof(LabelCount), LabelCount, LabelKind == StoreLabelKind.Class ? "set it to the number of classes (>= 1)" : "set it to the number of values per label (>= 1)");
        Check(MaxRows >= 1, nameof(MaxRows), MaxRows, "must be at least 1");
        Check(MaxBytes >= 1024, nameof(MaxBytes), MaxBytes, "must be at least 1024");
        Check(Ttl == Timeout.InfiniteTimeSpan || Ttl > TimeSpan.Zero, nameof(Ttl), Ttl, "must be positive or Timeout.InfiniteTimeSpan");
        Check(ExpirySweepInterval is null || ExpirySweepInterval == Timeout.InfiniteTimeSpan || ExpirySweepInterval > TimeSpan.Zero, nameof(ExpirySweepInterval), ExpirySweepInterval, "must be positive, Timeout.InfiniteTimeSpan (off) or null (a quarter of the TTL)");
        Check(ReplayCapacity >= 0, nameof(ReplayCapacity), ReplayCapacity, "must be >= 0 (0 disables replay)");
        Check(Enum.IsDefined(ReplayPolicy), nameof(ReplayPolicy), ReplayPolicy, "must be Reservoir or ClassBalanced");
        Check(!(ReplayPolicy == ReplayPolicyKind.ClassBalanced && LabelKind != StoreLabelKind.Class), nameof(ReplayPolicy), ReplayPolicy, "class-balanced replay needs class labels (LabelKind = Class); use Reservoir for values labels");
    }

    /// <summary>Real uid on Linux (from /proc/self/status), else the user name: only used to keep users' default directories apart.</summary>
    private static string CurrentUserId()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("Uid:", StringComparison.Ordinal)) continue;
                var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 1) return parts[1];
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return Environment.UserName;
    }
}
