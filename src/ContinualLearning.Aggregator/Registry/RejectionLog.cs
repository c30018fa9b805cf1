using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>Every refused or dropped delta with its reason and message (table <c>rejections</c>).</summary>
public sealed class RejectionLog
{
    private readonly RegistryDatabase _db;

    internal RejectionLog(RegistryDatabase db) => _db = db;

    public void Record(RejectionRecord rejection)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        _db.Execute("INSERT INTO rejections(at_utc, device_id, delta_id, reason, message) VALUES(@a,@d,@id,@r,@m)",
            ("@a", rejection.At), ("@d", rejection.DeviceId), ("@id", rejection.DeltaId), ("@r", rejection.Reason.ToText()), ("@m", rejection.Message));
    }

    /// <summary>Deletes rows older than <paramref name="before"/> and, beyond that, the oldest until at most <paramref name="maxRows"/> remain; returns how many.</summary>
    public int Prune(int maxRows, DateTimeOffset before)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRows);
        var old = _db.Execute("DELETE FROM rejections WHERE at_utc < @b", ("@b", before));
        // Rows are numbered in insertion order, so the cut keeps the newest maxRows.
        var excess = _db.Execute("DELETE FROM rejections WHERE id <= (SELECT MAX(id) FROM rejections) - @m", ("@m", maxRows));
        return old + excess;
    }

    /// <summary>Rows in the table.</summary>
    public int Count() => _db.Count("SELECT COUNT(*) FROM rejections");

    /// <summary>How many rejections were recorded for each reason.</summary>
    public IReadOnlyDictionary<RejectionReason, int> Counts() =>
        _db.CountBy("SELECT reason, COUNT(*) FROM rejections GROUP BY reason", WireText.Parse<RejectionReason>);

    /// <summary>The newest <paramref name="limit"/> rejections, newest first.</summary>
    public IReadOnlyList<RejectionRecord> Recent(int limit) => _db.Query(
        "SELECT at_utc, device_id, delta_id, reason, message FROM rejections ORDER BY id DESC LIMIT @l",
        r => new RejectionRecord(RegistryDatabase.ReadTime(r, 0), r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2),
            WireText.Parse<RejectionReason>(r.GetString(3)), r.GetString(4)),
        ("@l", limit));

    /// <summary>The <paramref name="limit"/> devices with the most rejections on record, most first.</summary>
    public IReadOnlyList<(string DeviceId, int Count)> TopDevices(int limit) => _db.Query(
        "SELECT device_id, COUNT(*) AS c FROM rejections WHERE device_id IS NOT NULL GROUP BY device_id ORDER BY c DESC, device_id LIMIT @l",
        r => (r.GetString(0), RegistryDatabase.ReadInt(r, 1)), ("@l", limit));

    /// <summary>Rejections recorded at or after <paramref name="since"/>.</summary>
    public int CountSince(DateTimeOffset since) => _db.Count("SELECT COUNT(*) FROM rejections WHERE at_utc >= @s", ("@s", since));
}
