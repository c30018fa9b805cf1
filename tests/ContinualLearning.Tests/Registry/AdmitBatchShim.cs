using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

// TEMPORARY until wt-registry's "registry: dialect API" is merged: deleted then.
internal static class AdmitBatchShim
{
    public static DeltaAdmission[] AdmitBatch(this DeltaLedger ledger, string name, IReadOnlyList<PendingDelta> deltas, PendingLimits limits) =>
        deltas.Select(d => ledger.Admit(name, d, limits)).ToArray();
}
