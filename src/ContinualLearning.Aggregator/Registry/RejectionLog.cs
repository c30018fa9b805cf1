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
}
