using System.Diagnostics;
using ContinualLearning.Replay;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

/// <summary>What a challenger run produced, before anything is promoted or checkpointed.</summary>
public sealed record ChallengerResult
{
    /// <summary>The challenger's trained head weights (state_dict order).</summary>
    public required IReadOnlyList<NamedTensor> Weights { get; init; }

    public required DecisionMetric Metric { get; init; }

    public required double ChampionMetric { get; init; }

    public required double ChallengerMetric { get; init; }

    /// <summary>The margin the comparison used.</summary>
    public required double Margin { get; init; }

    /// <summary>True when the challenger beat the champion by the margin.</summary>
    public required bool BeatsChampion { get; init; }

    public required int TrainSamples { get; init; }

    public required int HoldoutSamples { get; init; }

    public required long ReplayedRows { get; init; }

    public required long Steps { get; init; }

    public required long SampleGradients { get; init; }

    public required TimeSpan WallTime { get; init; }
}

/// <summary>
/// Champion/challenger, the pure part: split a run's fresh samples into train and a recent holdout, train a
/// challenger (from the champion's weights, or from scratch in <see cref="LearningMode.Stateless"/>), score both on
/// the holdout and say whether the challenger wins. No I/O: the caller owns samples, checkpoints and promotion.
/// </summary>
public static class ChallengerTrainer
{
    /// <summary>
    /// How many of <paramref name="count"/> fresh samples are held out: round(count · fraction), at least 1 and
    /// leaving at least 1 to train on.
    /// </summary>
    public static int HoldoutCount(int count, double fraction)
    {
        if (count < 2) throw new ArgumentOutOfRangeException(nameof(count), count, $"A run needs at least 2 fresh samples (one to train, one to hold out); it has {count}.");
        var h = (int)Math.Round(count * fraction, MidpointRounding.AwayFromZero);
        return Math.Clamp(h, 1, count - 1);
    }

    /// <summary>Runs one challenger round.</summary>
    /// <param name="engine">Creates the challenger and the champion copy it is compared with.</param>
    /// <param name="spec">Head architecture.</param>
    /// <param name="trainingOptions">Optimiser settings.</param>
    /// <param name="championWeights">The serving champion's weights (not modified).</param>
    /// <param name="fresh">The run's fresh labelled samples in arrival order (oldest first); the newest are held out.</param>
    /// <param name="replay">Replay source mixed into the micro-batches (stateful) or retrained on in full (stateless); may be null.</param>
    /// <param name="runSeed">Seed of this run (shuffling, replay draws, stateless initial weights).</param>
    /// <param name="options">Run size, batches, holdout, margin and mode.</param>
    /// <param name="penalty">
    /// An EWC penalty (anchored at the champion's weights) the challenger trains with in
    /// <see cref="LearningMode.Stateful"/> mode; null = none. Ignored in stateless mode, which starts from fresh weights.
    /// </param>
    /// <param name="cancellationToken">Checked between micro-batches.</param>
    /// <exception cref="OperationCanceledException">Cancelled between micro-batches; nothing was changed.</exception>
    public static ChallengerResult Run(ITrainingEngine engine, HeadSpec spec, TrainingOptions trainingOptions,
        IReadOnlyList<NamedTensor> championWeights, IReadOnlyList<TrainingSample> fresh, IReplaySource? replay,
        ChallengerOptions options, int runSeed, EwcPenalty? penalty = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(trainingOptions);
        ArgumentNullException.ThrowIfNull(championWeights);
        ArgumentNullException.ThrowIfNull(fresh);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var clock = Stopwatch.StartNew();

        var holdoutCount = HoldoutCount(fresh.Count, options.HoldoutFraction);
        var trainCount = fresh.Count - holdoutCount;
        var train = new TrainingSample[trainCount];
        var holdout = new TrainingSample[holdoutCount];
        for (var i = 0; i < trainCount; i++) train[i] = fresh[i];
        for (var i = 0; i < holdoutCount; i++) holdout[i] = fresh[trainCount + i];

        var rng = new Random(HashCode.Combine(options.Seed, runSeed));
        IReadOnlyList<NamedTensor> start;
        IReadOnlyList<TrainingSample> trainSet;
        IReplaySource? mixIn;
        MicroBatchComposer composer;
        long replayedRows = 0;
        if (options.Mode == LearningMode.Stateless)
        {
            // From scratch on the retained window: what the device still has (this run's samples + the replay
            // buffer). Replay rows are part of the data set here, not mixed into each batch.
            start = HeadInitializer.Initialize(spec, HashCode.Combine(options.Seed, runSeed, 17));
            var window = new List<TrainingSample>(train);
            if (replay is { Count: > 0 })
            {
                var held = replay.SampleReplay(replay.Count, rng);
                window.AddRange(held);
                replayedRows = held.Count;
            }
            trainSet = window;
            mixIn = null;
            composer = new MicroBatchComposer(spec, options.BatchSize, 0);
        }
        else
        {
            start = championWeights;
            trainSet = train;
            mixIn = replay;
            composer = new MicroBatchComposer(spec, options.BatchSize, options.ReplayRatio);
        }

        using var challenger = engine.Create(spec, trainingOptions, start);
        if (penalty is not null && options.Mode == LearningMode.Stateful) challenger.SetPenalty(penalty);
        long gradients = 0;
        for (var epoch = 0; epoch < options.Epochs; epoch++)
        {
            foreach (var batch in composer.Compose(trainSet, mixIn, rng))
            {
                cancellationToken.ThrowIfCancellationRequested();
                challenger.TrainStep(batch.X, batch.Targets, batch.Count);
                gradients += batch.Count;
                if (mixIn is not null) replayedRows += batch.ReplayCount;
            }
        }

        using var champion = engine.Create(spec, trainingOptions, championWeights);
        var metric = spec.Loss == LossKind.MeanSquaredError ? DecisionMetric.MeanSquaredError : DecisionMetric.Accuracy;
        var championScore = Score(champion, holdout, metric);
        var challengerScore = Score(challenger, holdout, metric);
        var margin = metric == DecisionMetric.Accuracy ? options.AccuracyMargin : options.MseRelativeMargin;
        return new ChallengerResult
        {
            Weights = challenger.GetWeights(),
            Metric = metric,
            ChampionMetric = championScore,
            ChallengerMetric = challengerScore,
            Margin = margin,
            BeatsChampion = Beats(metric, championScore, challengerScore, margin),
            TrainSamples = trainCount,
            HoldoutSamples = holdoutCount,
            ReplayedRows = replayedRows,
            Steps = challenger.Steps,
            SampleGradients = gradients,
            WallTime = clock.Elapsed,
        };
    }

    /// <summary>
    /// The promotion rule. Accuracy: challenger − champion ≥ margin. MSE: challenger &lt; champion · (1 − margin)
    /// (strictly lower, so a tie never promotes).
    /// </summary>
    public static bool Beats(DecisionMetric metric, double champion, double challenger, double margin) => metric switch
    {
        // The tolerance absorbs float noise in (k+1)/n − k/n ≥ margin comparisons.
        DecisionMetric.Accuracy => challenger - champion >= margin - 1e-12,
        _ => challenger < champion * (1 - margin),
    };

    /// <summary>Holdout accuracy (classification) or mean squared error (regression) of a model.</summary>
    public static double Score(IHeadModel model, IReadOnlyList<TrainingSample> holdout, DecisionMetric metric)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(holdout);
        if (holdout.Count == 0) throw new ArgumentException("Cannot score a model on an empty holdout.", nameof(holdout));
        var spec = model.Spec;
        var n = holdout.Count;
        for (var i = 0; i < n; i++)
            if (holdout[i].Features.Length != spec.InputSize)
                throw new ArgumentException($"Holdout sample {holdout[i].Id} has {holdout[i].Features.Length} features; head {spec} takes {spec.InputSize}.", nameof(holdout));
        // Scored in blocks of ScoreBlock rows, not all at once: a 205-row holdout of a 128→256→10 head would allocate
        // a 105 KB input and make the model grow its activation buffers to 256 rows (~0.8 MB), all on the large object
        // heap, which only a full GC frees — per model, per run. Rows are independent, so the result is the same.
        var rows = Math.Min(n, ScoreBlock);
        var x = new float[rows * spec.InputSize];
        var output = new float[rows * spec.OutputSize];
        var target = metric == DecisionMetric.Accuracy ? [] : new float[spec.TargetWidth];
        var correct = 0;
        double sum = 0;
        for (var start = 0; start < n; start += rows)
        {
            var count = Math.Min(rows, n - start);
            for (var i = 0; i < count; i++) holdout[start + i].Features.CopyTo(x, i * spec.InputSize);
            model.Predict(x.AsSpan(0, count * spec.InputSize), count, output.AsSpan(0, count * spec.OutputSize));
            for (var i = 0; i < count; i++)
            {
                var row = output.AsSpan(i * spec.OutputSize, spec.OutputSize);
                var label = holdout[start + i].Label;
                if (metric == DecisionMetric.Accuracy)
                {
                    if (PredictedClass(spec, row) == label.ClassIndex) correct++;
                    continue;
                }
                TargetEncoder.Write(spec, label, target);
                for (var j = 0; j < spec.OutputSize; j++)
                {
                    var d = row[j] - target[j];
                    sum += d * d;
                }
            }
        }
        return metric == DecisionMetric.Accuracy ? (double)correct / n : sum / (n * spec.OutputSize);
    }

    /// <summary>Holdout rows scored per <see cref="IHeadModel.Predict"/> call (the default micro-batch size).</summary>
    private const int ScoreBlock = 32;

    /// <summary>The predicted class of one output row: P ≥ 0.5 for a single-output binary head, else the arg-max.</summary>
    public static int PredictedClass(HeadSpec spec, ReadOnlySpan<float> output)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (output.Length == 1) return output[0] >= 0.5f ? 1 : 0;
        var best = 0;
        for (var j = 1; j < output.Length; j++)
            if (output[j] > output[best]) best = j;
        return best;
    }
}
