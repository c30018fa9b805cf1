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
        _db.Execute("INSERT INTO rejections(at_utc, device_id, delta_id, reason, message) VALUES($a,$d,$id,$r,$m)",
            ("$a", RegistryDatabase.Format(rejection.At)), ("$d", rejection.DeviceId), ("$id", rejection.DeltaId), ("$r", rejection.Reason.ToText()), ("$m", rejection.Message));
    }

    /// <summary>How many rejections were recorded for each reason.</summary>
    public IReadOnlyDictionary<RejectionReason, int> Counts() =>
        _db.CountBy("SELECT reason, COUNT(*) FROM rejections GROUP BY reason", WireText.Parse<RejectionReason>);
}
