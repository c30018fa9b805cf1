using ContinualLearning.Replay;

namespace ContinualLearning.Storage;

/// <summary>One refused item of a batch: its position and the reason.</summary>
public sealed record BatchRejection(int Index, SampleRejectedException Error);

/// <summary>Outcome of <see cref="SampleStore.AddLabelledBatch"/>: ids aligned with the input (−1 where refused) and the refusals.</summary>
public sealed record IngestResult(long[] Ids, IReadOnlyList<BatchRejection> Rejections)
{
    /// <summary>Samples stored.</summary>
    public int Accepted => Ids.Length - Rejections.Count;
}

/// <summary>What a label was joined with: the logged prediction and the model version that served it (for prequential metrics).</summary>
public sealed record LabelJoin(long SampleId, DateTimeOffset LoggedAt, float[]? Prediction, string? ModelVersion, SampleLabel Label);

/// <summary>Outcome of <see cref="SampleStore.AddLabels"/>: joins aligned with the input (null where refused) and the refusals.</summary>
public sealed record LabelBatchResult(LabelJoin?[] Joins, IReadOnlyList<BatchRejection> Rejections);

/// <summary>Outcome of <see cref="ReplayBuffer.Offer"/>.</summary>
public sealed record ReplayOfferResult(int Offered, int Admitted, IReadOnlyList<BatchRejection> Rejections);

/// <summary>A snapshot of the store's contents and counters since it was opened.</summary>
public sealed record StoreStats(
    long Pending,
    long Fresh,
    long Taken,
    long Bytes,
    int ReplayCount,
    long Evicted,
    long Expired)
{
    /// <summary>All sample rows (pending + fresh + taken).</summary>
    public long Rows => Pending + Fresh + Taken;
}
