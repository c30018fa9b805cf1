using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Inbox;

/// <summary>
/// Stand-in for <c>DeltaLedger.AdmitBatch</c> until the registry branch lands (its instance method then wins over this
/// extension): one <see cref="DeltaLedger.Admit"/> per delta, which joins the caller's transaction.
/// </summary>
internal static class AdmitBatchShim
{
    public static DeltaAdmission[] AdmitBatch(this DeltaLedger ledger, string name, IReadOnlyList<PendingDelta> deltas, PendingLimits limits) =>
        deltas.Select(d => ledger.Admit(name, d, limits)).ToArray();
}
