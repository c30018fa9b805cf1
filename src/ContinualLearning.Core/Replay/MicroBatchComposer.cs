using ContinualLearning.Training;

namespace ContinualLearning.Replay;

/// <summary>
/// One micro-batch in the row-major layout of <see cref="IHeadModel.TrainStep"/>.
/// The buffers belong to the composer and are overwritten by the next batch: train on it before moving on.
/// </summary>
public sealed class MicroBatch
{
    internal MicroBatch(int batchSize, int inputSize, int targetWidth)
    {
        XBuffer = new float[batchSize * inputSize];
        TargetBuffer = new float[batchSize * targetWidth];
        InputSize = inputSize;
        TargetWidth = targetWidth;
    }

    internal float[] XBuffer { get; }

    internal float[] TargetBuffer { get; }

    private int InputSize { get; }

    private int TargetWidth { get; }

    /// <summary>Rows in this batch (fresh + replayed).</summary>
    public int Count => FreshCount + ReplayCount;

    /// <summary>Rows taken from fresh samples; they come first in the buffers.</summary>
    public int FreshCount { get; internal set; }

    /// <summary>Rows drawn from the replay buffer; they follow the fresh rows.</summary>
    public int ReplayCount { get; internal set; }

    /// <summary>Count × InputSize features.</summary>
    public ReadOnlySpan<float> X => XBuffer.AsSpan(0, Count * InputSize);

    /// <summary>Count × TargetWidth targets.</summary>
    public ReadOnlySpan<float> Targets => TargetBuffer.AsSpan(0, Count * TargetWidth);
}

/// <summary>
/// Mixes fresh and replayed samples into micro-batches: with replay ratio r, each full micro-batch of size B holds
/// round(B·r) replayed rows and the rest fresh. Every fresh sample appears exactly once per <see cref="Compose"/>
/// (in a random order); replayed rows are drawn anew for each batch. The last, partial batch keeps the same ratio.
/// When the replay source is empty or null, batches are all fresh (full size).
/// </summary>
public sealed class MicroBatchComposer
{
    private readonly HeadSpec _spec;

    /// <summary>Composes batches of <paramref name="batchSize"/> rows for <paramref name="spec"/>, of which round(batchSize · <paramref name="replayRatio"/>) are replayed (at least one fresh row per batch).</summary>
    public MicroBatchComposer(HeadSpec spec, int batchSize, double replayRatio)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Micro-batch size is {batchSize}; it must be at least 1.");
        if (!(replayRatio >= 0 && replayRatio < 1))
            throw new ArgumentOutOfRangeException(nameof(replayRatio), replayRatio, $"Replay ratio is {replayRatio}; it must be in [0, 1) so each batch keeps at least one fresh sample.");
        _spec = spec;
        BatchSize = batchSize;
        ReplayRatio = replayRatio;
        ReplayPerBatch = (int)Math.Round(batchSize * replayRatio, MidpointRounding.AwayFromZero);
        if (ReplayPerBatch >= batchSize) ReplayPerBatch = batchSize - 1;
    }

    /// <summary>Rows in a full batch.</summary>
    public int BatchSize { get; }

    /// <summary>Share of replayed rows in a batch, in [0, 1).</summary>
    public double ReplayRatio { get; }

    /// <summary>Replayed rows in a full batch.</summary>
    public int ReplayPerBatch { get; }

    /// <summary>Fresh rows in a full batch.</summary>
    public int FreshPerBatch => BatchSize - ReplayPerBatch;

    /// <summary>
    /// Yields micro-batches covering every sample of <paramref name="fresh"/> once. The same <see cref="MicroBatch"/>
    /// instance is reused for every batch.
    /// </summary>
    /// <exception cref="ArgumentException">A sample's feature count differs from the head's input size, or its label cannot be a target for the head.</exception>
    public IEnumerable<MicroBatch> Compose(IReadOnlyList<TrainingSample> fresh, IReplaySource? replay, Random rng)
    {
        ArgumentNullException.ThrowIfNull(fresh);
        ArgumentNullException.ThrowIfNull(rng);
        return ComposeIterator(fresh, replay, rng);
    }

    private IEnumerable<MicroBatch> ComposeIterator(IReadOnlyList<TrainingSample> fresh, IReplaySource? replay, Random rng)
    {
        var order = new int[fresh.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        // Fresh samples arrive in time order; shuffling avoids micro-batches that are each one slice of the stream.
        rng.Shuffle(order);

        var batch = new MicroBatch(BatchSize, _spec.InputSize, _spec.TargetWidth);
        // With nothing to replay, batches are all fresh and full-sized rather than short.
        var canReplay = replay is { Count: > 0 } && ReplayPerBatch > 0;
        var freshPerBatch = canReplay ? FreshPerBatch : BatchSize;
        var next = 0;
        while (next < order.Length)
        {
            var freshCount = Math.Min(freshPerBatch, order.Length - next);
            var replayWanted = !canReplay ? 0
                : freshCount == freshPerBatch ? ReplayPerBatch
                : Math.Min(ReplayPerBatch, (int)Math.Round(freshCount * ReplayRatio / (1 - ReplayRatio), MidpointRounding.AwayFromZero));
            var replayed = replayWanted > 0 ? replay!.SampleReplay(replayWanted, rng) : [];

            var row = 0;
            for (var k = 0; k < freshCount; k++) Write(batch, row++, fresh[order[next + k]]);
            foreach (var sample in replayed) Write(batch, row++, sample);
            batch.FreshCount = freshCount;
            batch.ReplayCount = replayed.Count;
            next += freshCount;
            yield return batch;
        }
    }

    private void Write(MicroBatch batch, int row, TrainingSample sample)
    {
        var inputSize = _spec.InputSize;
        if (sample.Features.Length != inputSize)
            throw new ArgumentException($"Sample {sample.Id} has {sample.Features.Length} features; head {_spec} takes {inputSize}. The store and the head disagree on the input (raw features vs embedding?).", nameof(sample));
        sample.Features.CopyTo(batch.XBuffer.AsSpan(row * inputSize, inputSize));
        var width = _spec.TargetWidth;
        try
        {
            TargetEncoder.Write(_spec, sample.Label, batch.TargetBuffer.AsSpan(row * width, width));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Sample {sample.Id}: {e.Message}", nameof(sample), e);
        }
    }
}
