namespace ContinualLearning.Aggregator.Registry;

/// <summary>One operator action asked of the console, allowed or refused.</summary>
/// <param name="At">When it was asked.</param>
/// <param name="Operator">The operator's name from its credential, or <c>anonymous</c> when none was valid.</param>
/// <param name="Action">What was asked: <c>rollback</c>, <c>publish</c>, <c>command</c>.</param>
/// <param name="Target">The version or device it was asked for.</param>
/// <param name="Outcome">What came of it: <c>done</c>, <c>refused</c>, <c>failed</c> …</param>
/// <param name="Detail">Why, in one line.</param>
public sealed record AuditRecord(DateTimeOffset At, string Operator, string Action, string Target, string Outcome, string Detail);

/// <summary>The console's audit trail (table <c>audit</c>): appended to, read newest first, cut by rows and age.</summary>
public sealed class AuditLog
{
    private readonly RegistryDatabase _db;

    internal AuditLog(RegistryDatabase db) => _db = db;

    public void Record(AuditRecord entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _db.Execute("INSERT INTO audit(at_utc, operator, action, target, outcome, detail) VALUES(@a,@o,@x,@t,@r,@d)",
            ("@a", entry.At), ("@o", entry.Operator), ("@x", entry.Action), ("@t", entry.Target), ("@r", entry.Outcome), ("@d", entry.Detail));
    }

    /// <summary>The newest <paramref name="limit"/> entries, newest first.</summary>
    public IReadOnlyList<AuditRecord> Recent(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        return _db.Query(
            "SELECT at_utc, operator, action, target, outcome, detail FROM audit ORDER BY id DESC LIMIT @l",
            r => new AuditRecord(RegistryDatabase.ReadTime(r, 0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5)),
            ("@l", limit));
    }

    /// <summary>Deletes entries older than <paramref name="before"/> and, beyond that, the oldest until at most <paramref name="maxRows"/> remain; returns how many.</summary>
    public int Prune(int maxRows, DateTimeOffset before)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        var old = _db.Execute("DELETE FROM audit WHERE at_utc < @b", ("@b", before));
        return old + _db.Execute("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - @m", ("@m", maxRows));
    }
}
