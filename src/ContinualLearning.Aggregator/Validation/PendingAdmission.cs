using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Validation;

/// <summary>
/// The last step of accepting a delta: the ledger buffers it atomically with its id, within the pending bounds
/// (<see cref="AggregationOptions.MaxPending"/>, <see cref="AggregationOptions.MaxPendingPerDevice"/>), and a refusal
/// becomes a rejection with its reason like any other.
/// </summary>
internal static class PendingAdmission
{
    public static PendingLimits Limits(AggregationOptions aggregation) => new(aggregation.MaxPending, aggregation.MaxPendingPerDevice);

    /// <summary>Buffers the validated delta; the verdict is <paramref name="accepted"/> or the refusal.</summary>
    public static DeltaVerdict Admit(DeltaLedger ledger, string modelName, PendingDelta pending, DeltaVerdict accepted, AggregationOptions aggregation)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(accepted);
        ArgumentNullException.ThrowIfNull(aggregation);
        return Verdict(ledger.Admit(modelName, pending, Limits(aggregation)), pending, accepted, aggregation);
    }

    /// <summary>The verdict for what the ledger did with <paramref name="pending"/>: <paramref name="accepted"/> or the refusal.</summary>
    public static DeltaVerdict Verdict(DeltaAdmission admission, PendingDelta pending, DeltaVerdict accepted, AggregationOptions aggregation)
    {
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(accepted);
        ArgumentNullException.ThrowIfNull(aggregation);
        var who = $"delta {pending.DeltaId} from '{pending.DeviceId}'";
        return admission switch
        {
            DeltaAdmission.Accepted => accepted,
            DeltaAdmission.Duplicate => DeltaVerdict.Reject(RejectionReason.Duplicate, $"{who}: delta id already accepted; not counted again.", accepted.Delta),
            DeltaAdmission.PendingFull => DeltaVerdict.Reject(RejectionReason.PendingFull,
                $"{who}: {aggregation.MaxPending} deltas are already buffered (Aggregation.MaxPending); not recorded, send it again after the next aggregation.", accepted.Delta),
            DeltaAdmission.DeviceQuota => DeltaVerdict.Reject(RejectionReason.DeviceQuota,
                $"{who}: the device already has {aggregation.MaxPendingPerDevice} deltas buffered (Aggregation.MaxPendingPerDevice); not recorded, send it again after the next aggregation.", accepted.Delta),
            var other => throw new InvalidOperationException($"Unknown admission {other}."),
        };
    }
}
