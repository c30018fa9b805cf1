namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Every release decided for the wire, with its release sequence (table <c>releases</c>). The sequence of a model only
/// goes up: the next one is the larger of (highest used + 1) and the current Unix time in milliseconds, so it stays above
/// what devices accepted even when a registry is rebuilt from scratch (as long as the clock is not set back). It is also
/// the rollout's outbox: a release is allocated in the transaction that decides it and marked sent once it was published
/// (<see cref="Unsent"/>, <see cref="MarkSent"/>), so one that a crash kept off the wire is published later.
/// </summary>
public sealed class ReleaseLog
{
    private readonly RegistryDatabase _db;
    private readonly TimeProvider _time;

    internal ReleaseLog(RegistryDatabase db, TimeProvider time)
    {
        _db = db;
        _time = time;
    }

    /// <summary>Allocates the next sequence of <paramref name="name"/> and records that it goes to <paramref name="version"/> for <paramref name="cohort"/>, not yet sent.</summary>
    public long Allocate(string name, string version, string cohort)
    {
        var now = _time.GetUtcNow();
        // Under the model lock: at READ COMMITTED two hosts would otherwise read the same highest sequence.
        return _db.WithModelLock(name, () =>
        {
            var highest = Highest(name);
            var next = Math.Max(highest + 1, now.ToUnixTimeMilliseconds());
            _db.Execute("INSERT INTO releases(name, sequence, version, cohort, published_utc) VALUES(@n,@s,@v,@c,@a)",
                ("@n", name), ("@s", next), ("@v", version), ("@c", cohort), ("@a", now));
            return next;
        });
    }

    /// <summary>Records that the release with <paramref name="sequence"/> is on the wire; false when it already was.</summary>
    public bool MarkSent(string name, long sequence) =>
        _db.Execute("UPDATE releases SET sent_utc=@t WHERE name=@n AND sequence=@s AND sent_utc IS NULL", ("@t", _time.GetUtcNow()), ("@n", name), ("@s", sequence)) == 1;

    /// <summary>Releases allocated but not yet sent, oldest first: (sequence, version, cohort).</summary>
    public IReadOnlyList<(long Sequence, string Version, string Cohort)> Unsent(string name) => _db.Query(
        "SELECT sequence, version, cohort FROM releases WHERE name=@n AND sent_utc IS NULL ORDER BY sequence",
        r => (r.GetInt64(0), r.GetString(1), r.GetString(2)), ("@n", name));

    /// <summary>The highest sequence allocated for <paramref name="name"/>; 0 before any.</summary>
    public long Highest(string name) =>
        Convert.ToInt64(_db.Scalar("SELECT COALESCE(MAX(sequence), 0) FROM releases WHERE name=@n", ("@n", name)), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Releases of a model in the order they were allocated: (sequence, version, cohort).</summary>
    public IReadOnlyList<(long Sequence, string Version, string Cohort)> List(string name) => _db.Query(
        "SELECT sequence, version, cohort FROM releases WHERE name=@n ORDER BY sequence",
        r => (r.GetInt64(0), r.GetString(1), r.GetString(2)), ("@n", name));
}
