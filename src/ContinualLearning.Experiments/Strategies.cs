using ContinualLearning.Replay;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments;

/// <summary>
/// "No update": trains <see cref="StrategyOptions.Epochs"/> epochs on the first <see cref="StrategyOptions.WarmUp"/>
/// samples, then freezes weights and input statistics — the model a device ships with and never retrains.
/// </summary>
internal sealed class NoUpdateStrategy(ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options)
    : MlpStrategy(engine, featureCount, classCount, options)
{
    public override string Name => "none";

    private protected override int UpdateInterval => Options.WarmUp;

    private protected override void Update(IReadOnlyList<LabelledRow> fresh)
    {
        TrainEpochs(fresh, Options.Epochs);
        Learning = false;
        Standardizer.Frozen = true;
    }
}

/// <summary>
/// Stateless retraining: keeps the last <see cref="StrategyOptions.Window"/> samples and, every U samples,
/// throws the model away and trains a fresh one from the same initial weights for E epochs on that window.
/// Costs min(seen, W) × E sample-gradients per retrain. The usual "retrain on a schedule" baseline.
/// </summary>
internal sealed class StatelessRetrainStrategy(ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options)
    : MlpStrategy(engine, featureCount, classCount, options)
{
    private readonly Queue<LabelledRow> _window = new();

    public override string Name => "stateless";

    private protected override void Observe(LabelledRow row)
    {
        _window.Enqueue(row);
        if (_window.Count > Options.Window) _window.Dequeue();
    }

    private protected override void Update(IReadOnlyList<LabelledRow> fresh)
    {
        // From scratch: same seed each time, so retrains differ only by the data they see.
        var head = Engine.Create(Spec, Options.Training, seed: Options.Seed);
        Head.Dispose();
        Head = head;
        TrainEpochs([.. _window], Options.Epochs);
    }
}

/// <summary>
/// Stateful fine-tuning: every U samples, continue training the current weights (and optimiser state) on those U
/// samples only, <see cref="StrategyOptions.FineTuneEpochs"/> passes. Cheapest; forgets what it no longer sees.
/// </summary>
internal sealed class StatefulFineTuneStrategy(ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options)
    : MlpStrategy(engine, featureCount, classCount, options)
{
    public override string Name => "stateful";

    private protected override void Update(IReadOnlyList<LabelledRow> fresh) => TrainEpochs(fresh, Options.FineTuneEpochs);
}

/// <summary>
/// Stateful fine-tuning with experience replay: each micro-batch holds fresh samples and
/// round(B × ratio) samples drawn from a bounded replay buffer (reservoir or class-balanced admission).
/// Fresh samples are offered to the buffer after the update, so replayed rows are always older.
/// The EWC variant (<see cref="EwcStrategy"/>) also applies an EWC penalty (see <see cref="ReplayStrategy.Update"/>).
/// </summary>
internal class ReplayStrategy : MlpStrategy
{
    private readonly ReplayMemory _memory;
    private readonly MicroBatchComposer _composer;
    private readonly bool _ewc;

    public ReplayStrategy(ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options, bool ewc = false)
        : base(engine, featureCount, classCount, options)
    {
        _ewc = ewc;
        _memory = new ReplayMemory(ReplayPolicy.Create(options.ReplayPolicy, options.ReplayCapacity, classCount, options.Seed), Standardize);
        _composer = new MicroBatchComposer(Spec, options.BatchSize, options.ReplayRatio);
    }

    public override string Name => _ewc ? "ewc" : "replay";

    /// <summary>Samples in the replay buffer.</summary>
    public int ReplayCount => _memory.Count;

    /// <summary>
    /// With EWC, the penalty is re-anchored at the current weights before each update, with a diagonal Fisher from
    /// <see cref="StrategyOptions.FisherSamples"/> replayed samples ("online EWC": a stream has no task boundaries,
    /// so the anchor moves with the model and the penalty resists moving weights that matter for old data).
    /// The Fisher samples count as sample-gradients.
    /// </summary>
    private protected override void Update(IReadOnlyList<LabelledRow> fresh)
    {
        if (_ewc && _memory.Count > 0 && Options.EwcLambda > 0)
        {
            var sample = _memory.SampleRows(Math.Min(Options.FisherSamples, _memory.Count), Rng);
            var (x, y) = Standardize(sample);
            var fisher = Head.FisherDiagonal(x, y, sample.Count);
            SampleGradients += sample.Count;
            Head.SetPenalty(new EwcPenalty(Head.GetWeights(), fisher, Options.EwcLambda));
        }
        var freshSamples = new TrainingSample[fresh.Count];
        for (var i = 0; i < fresh.Count; i++) freshSamples[i] = _memory.ToTrainingSample(fresh[i], -1);
        for (var e = 0; e < Options.FineTuneEpochs; e++)
        {
            foreach (var batch in _composer.Compose(freshSamples, _memory, Rng))
            {
                Head.TrainStep(batch.X, batch.Targets, batch.Count);
                SampleGradients += batch.Count;
                TrainSteps++;
            }
        }
        foreach (var row in fresh) _memory.Offer(row);
    }

    private void Standardize(LabelledRow row, Span<float> output) => Standardizer.Transform(row.X, output);
}

/// <summary>Replay + EWC (a named subclass so tables and factories can tell them apart).</summary>
internal sealed class EwcStrategy(ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options)
    : ReplayStrategy(engine, featureCount, classCount, options, ewc: true);

/// <summary>
/// In-memory replay buffer: an <see cref="IReplayPolicy"/> decides the slot, this class owns the raw rows.
/// Rows are standardised when drawn, with the statistics of that moment, because the standardiser keeps moving.
/// </summary>
internal sealed class ReplayMemory(IReplayPolicy policy, ReplayMemory.StandardizeRow standardize) : IReplaySource
{
    internal delegate void StandardizeRow(LabelledRow row, Span<float> output);

    private readonly LabelledRow[] _slots = new LabelledRow[policy.Capacity];

    public int Count => policy.Count;

    public void Offer(LabelledRow row)
    {
        var slot = policy.Offer(row.Y);
        if (slot >= 0) _slots[slot] = row;
    }

    public IReadOnlyList<LabelledRow> SampleRows(int count, Random rng)
    {
        var n = Math.Min(count, Count);
        var idx = new int[Count];
        for (var i = 0; i < idx.Length; i++) idx[i] = i;
        // Partial Fisher–Yates: n distinct slots, uniformly.
        for (var i = 0; i < n; i++)
        {
            var j = rng.Next(i, idx.Length);
            (idx[i], idx[j]) = (idx[j], idx[i]);
        }
        var result = new LabelledRow[n];
        for (var i = 0; i < n; i++) result[i] = _slots[idx[i]];
        return result;
    }

    public IReadOnlyList<TrainingSample> SampleReplay(int count, Random rng) =>
        [.. SampleRows(count, rng).Select(r => ToTrainingSample(r, -1))];

    public TrainingSample ToTrainingSample(LabelledRow row, long id)
    {
        var x = new float[row.X.Length];
        standardize(row, x);
        return new TrainingSample(id, x, SampleLabel.Class(row.Y));
    }
}

/// <summary>Creates strategies by kind.</summary>
public static class StrategyFactory
{
    /// <summary>A new strategy of <paramref name="kind"/> for <paramref name="featureCount"/> inputs and <paramref name="classCount"/> classes.</summary>
    public static MlpStrategy Create(StrategyKind kind, ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options) => kind switch
    {
        StrategyKind.NoUpdate => new NoUpdateStrategy(engine, featureCount, classCount, options),
        StrategyKind.Stateless => new StatelessRetrainStrategy(engine, featureCount, classCount, options),
        StrategyKind.Stateful => new StatefulFineTuneStrategy(engine, featureCount, classCount, options),
        StrategyKind.Replay => new ReplayStrategy(engine, featureCount, classCount, options),
        StrategyKind.Ewc => new EwcStrategy(engine, featureCount, classCount, options),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown strategy."),
    };
}
