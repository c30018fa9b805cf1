using System.Diagnostics;
using ContinualLearning.Replay;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>What one adaptation cost and produced.</summary>
/// <param name="Weights">The head after the update (the base weights for no-update).</param>
/// <param name="SampleGradients">Rows of every train step plus Fisher samples.</param>
/// <param name="Steps">Optimiser steps.</param>
/// <param name="WallTime">Time spent training.</param>
internal sealed record AdaptationResult(IReadOnlyList<NamedTensor> Weights, long SampleGradients, long Steps, TimeSpan WallTime);

/// <summary>
/// The training the keyword scenarios run, on embeddings: base training, and one device update by each strategy
/// starting from the same weights. Built from the shared parts (<see cref="MicroBatchComposer"/>, the replay policies,
/// <see cref="EwcPenalty"/>) the prequential strategies and the device learner use.
/// </summary>
internal static class KeywordTraining
{
    /// <summary>Trains a fresh head (seeded init) for <see cref="KeywordOptions.BaseEpochs"/> shuffled epochs on <paramref name="rows"/>.</summary>
    public static IReadOnlyList<NamedTensor> TrainBase(ITrainingEngine engine, HeadSpec spec, IReadOnlyList<LabelledRow> rows, KeywordOptions options, int seed)
    {
        using var head = engine.Create(spec, options.BaseTraining, seed: seed);
        var composer = new MicroBatchComposer(spec, options.BatchSize, 0);
        var samples = ToSamples(rows);
        var rng = new Random(seed);
        for (var e = 0; e < options.BaseEpochs; e++)
            foreach (var batch in composer.Compose(samples, null, rng))
                head.TrainStep(batch.X, batch.Targets, batch.Count);
        return head.GetWeights();
    }

    /// <summary>
    /// One device update by <paramref name="kind"/> on <paramref name="fresh"/> from <paramref name="start"/>:
    /// <see cref="StrategyKind.NoUpdate"/> keeps the weights; <see cref="StrategyKind.Stateful"/> fine-tunes on the
    /// fresh clips alone; <see cref="StrategyKind.Replay"/> mixes each micro-batch with replayed embeddings;
    /// <see cref="StrategyKind.Ewc"/> adds an EWC penalty anchored at <paramref name="start"/> with a diagonal Fisher
    /// from replayed samples. Every updating strategy makes <see cref="KeywordOptions.AdaptEpochs"/> passes over the fresh clips.
    /// </summary>
    public static AdaptationResult Adapt(StrategyKind kind, ITrainingEngine engine, HeadSpec spec, IReadOnlyList<NamedTensor> start,
        IReadOnlyList<LabelledRow> fresh, IReplaySource replay, KeywordOptions options, int seed)
    {
        if (kind == StrategyKind.NoUpdate) return new AdaptationResult(start, 0, 0, TimeSpan.Zero);
        if (kind == StrategyKind.Stateless)
            throw new ArgumentException("The keyword scenarios compare none, stateful (fine-tune), replay and ewc; 'stateless' retrains from scratch on a window, which a device with a handful of clips does not have.", nameof(kind));
        var watch = Stopwatch.StartNew();
        using var head = engine.Create(spec, options.AdaptTraining, initialWeights: start, seed: seed);
        var rng = new Random(seed);
        long gradients = 0, steps = 0;
        var useReplay = kind is StrategyKind.Replay or StrategyKind.Ewc;
        if (kind == StrategyKind.Ewc && options.EwcLambda > 0 && replay.Count > 0)
        {
            var anchorRows = replay.SampleReplay(options.FisherSamples, rng).Select(s => new LabelledRow(s.Features, s.Label.ClassIndex)).ToList();
            var (x, y) = Matrix(anchorRows, spec.InputSize);
            head.SetPenalty(new EwcPenalty(head.GetWeights(), head.FisherDiagonal(x, y, anchorRows.Count), options.EwcLambda));
            gradients += anchorRows.Count;
        }
        var composer = new MicroBatchComposer(spec, options.BatchSize, useReplay ? options.ReplayRatio : 0);
        var samples = ToSamples(fresh);
        for (var e = 0; e < options.AdaptEpochs; e++)
        {
            foreach (var batch in composer.Compose(samples, useReplay ? replay : null, rng))
            {
                head.TrainStep(batch.X, batch.Targets, batch.Count);
                gradients += batch.Count;
                steps++;
            }
        }
        return new AdaptationResult(head.GetWeights(), gradients, steps, watch.Elapsed);
    }

    /// <summary>Fraction of <paramref name="rows"/> the head with <paramref name="weights"/> classifies correctly (NaN for none).</summary>
    public static double Accuracy(ITrainingEngine engine, HeadSpec spec, IReadOnlyList<NamedTensor> weights, IReadOnlyList<LabelledRow> rows)
    {
        if (rows.Count == 0) return double.NaN;
        using var head = engine.Create(spec, new TrainingOptions(), initialWeights: weights);
        var (x, _) = Matrix(rows, spec.InputSize);
        return HeadAccuracy.Of(head, x, rows.Select(r => r.Y).ToArray());
    }

    /// <summary>A replay buffer filled from <paramref name="rows"/> in a seeded random order (reservoir or class-balanced admission).</summary>
    public static IReplaySource ReplayFrom(IReadOnlyList<LabelledRow> rows, int classCount, KeywordOptions options, int seed)
    {
        var memory = new ReplayMemory(ReplayPolicy.Create(options.ReplayPolicy, options.ReplayCapacity, classCount, seed), static (row, output) => row.X.CopyTo(output));
        var order = Enumerable.Range(0, rows.Count).ToArray();
        new Random(seed).Shuffle(order);
        foreach (var i in order) memory.Offer(rows[i]);
        return memory;
    }

    private static TrainingSample[] ToSamples(IReadOnlyList<LabelledRow> rows) =>
        [.. rows.Select((r, i) => new TrainingSample(i, r.X, SampleLabel.Class(r.Y)))];

    private static (float[] X, float[] Y) Matrix(IReadOnlyList<LabelledRow> rows, int width)
    {
        var x = new float[rows.Count * width];
        var y = new float[rows.Count];
        for (var r = 0; r < rows.Count; r++)
        {
            rows[r].X.CopyTo(x.AsSpan(r * width, width));
            y[r] = rows[r].Y;
        }
        return (x, y);
    }
}
