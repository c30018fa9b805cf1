using ContinualLearning.Evaluation;
using ContinualLearning.Training;

namespace ContinualLearning.Experiments;

/// <summary>A labelled sample as the strategies keep it: raw (unstandardised) features and a class index.</summary>
internal readonly record struct LabelledRow(float[] X, int Y);

/// <summary>Something that reports the training compute it spent.</summary>
internal interface IComputeReporting
{
    /// <summary>Samples × passes through backward: every row of every train step, plus Fisher samples.</summary>
    long SampleGradients { get; }

    /// <summary>Optimiser steps taken.</summary>
    long TrainSteps { get; }

    /// <summary>Model updates (retrains or fine-tunes) performed.</summary>
    long Updates { get; }
}

/// <summary>
/// Base of the MLP strategies: an <see cref="IOnlineClassifier"/> around a softmax head from an
/// <see cref="ITrainingEngine"/>. It standardises inputs online (<see cref="RunningStandardizer"/>), collects
/// labelled samples and hands every <see cref="StrategyOptions.UpdateEvery"/> of them to <see cref="Update"/>;
/// subclasses decide what an update trains on.
/// </summary>
public abstract class MlpStrategy : IOnlineClassifier, IComputeReporting, IDisposable
{
    private readonly List<LabelledRow> _pending = [];
    private readonly float[] _xBuffer;
    private readonly float[] _outBuffer;
    private float[] _batchX = [];
    private float[] _batchY = [];
    private bool _disposed;

    private protected MlpStrategy(ITrainingEngine engine, int featureCount, int classCount, StrategyOptions options)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (classCount < 2)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "A classification stream needs at least 2 classes.");
        Engine = engine;
        Options = options;
        Spec = new HeadSpec([featureCount, .. options.Hidden, classCount], LossKind.SoftmaxCrossEntropy);
        Standardizer = new RunningStandardizer(featureCount);
        Rng = new Random(options.Seed);
        Head = engine.Create(Spec, options.Training, seed: options.Seed);
        _xBuffer = new float[featureCount];
        _outBuffer = new float[classCount];
    }

    /// <summary>Short name for tables ("stateless", "replay", ...).</summary>
    public abstract string Name { get; }

    /// <summary>The engine the head trains on.</summary>
    public ITrainingEngine Engine { get; }

    /// <summary>The strategy's settings (update interval, epochs, replay, EWC).</summary>
    public StrategyOptions Options { get; }

    /// <summary>The head's layer sizes and loss.</summary>
    public HeadSpec Spec { get; }

    /// <summary>Compute so far: rows of every train step times passes through backward, plus Fisher samples.</summary>
    public long SampleGradients { get; private protected set; }

    /// <summary>Optimiser steps so far.</summary>
    public long TrainSteps { get; private protected set; }

    /// <summary>Updates so far (one per <see cref="StrategyOptions.UpdateEvery"/> labelled samples).</summary>
    public long Updates { get; private set; }

    /// <summary>The current head (replaced by strategies that retrain from scratch).</summary>
    private protected IHeadModel Head { get; set; }

    private protected RunningStandardizer Standardizer { get; }

    private protected Random Rng { get; }

    /// <summary>When false, <see cref="Learn"/> does nothing (a frozen model).</summary>
    private protected bool Learning { get; set; } = true;

    /// <inheritdoc />
    public int Predict(ReadOnlySpan<float> x)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Standardizer.Transform(x, _xBuffer);
        Head.Predict(_xBuffer, 1, _outBuffer);
        var best = 0;
        for (var c = 1; c < _outBuffer.Length; c++)
            if (_outBuffer[c] > _outBuffer[best]) best = c;
        return best;
    }

    /// <inheritdoc />
    public void Learn(ReadOnlySpan<float> x, int y)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Learning) return;
        if ((uint)y >= (uint)Spec.OutputSize)
            throw new ArgumentOutOfRangeException(nameof(y), y, $"Label {y} is outside the head's {Spec.OutputSize} classes.");
        Standardizer.Update(x);
        var row = new LabelledRow(x.ToArray(), y);
        Observe(row);
        _pending.Add(row);
        if (_pending.Count >= UpdateInterval)
        {
            Update(_pending);
            Updates++;
            _pending.Clear();
        }
    }

    /// <summary>Samples between updates (the no-update strategy overrides it with its warm-up length).</summary>
    private protected virtual int UpdateInterval => Options.UpdateEvery;

    /// <summary>Called for every labelled sample before it joins the pending batch (the stateless window uses it).</summary>
    private protected virtual void Observe(LabelledRow row)
    {
    }

    /// <summary>Trains on the samples collected since the last update (the list is cleared afterwards).</summary>
    private protected abstract void Update(IReadOnlyList<LabelledRow> fresh);

    /// <summary>
    /// <paramref name="epochs"/> shuffled passes over <paramref name="rows"/> in micro-batches, standardised with the
    /// current statistics. Counts rows × epochs sample-gradients.
    /// </summary>
    private protected void TrainEpochs(IReadOnlyList<LabelledRow> rows, int epochs)
    {
        var order = new int[rows.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        for (var e = 0; e < epochs; e++)
        {
            Rng.Shuffle(order);
            for (var start = 0; start < order.Length; start += Options.BatchSize)
            {
                var n = Math.Min(Options.BatchSize, order.Length - start);
                var batch = new LabelledRow[n];
                for (var k = 0; k < n; k++) batch[k] = rows[order[start + k]];
                TrainBatch(batch);
            }
        }
    }

    /// <summary>One optimiser step on <paramref name="batch"/> (raw rows, standardised here).</summary>
    private protected void TrainBatch(IReadOnlyList<LabelledRow> batch)
    {
        var n = batch.Count;
        if (n == 0) return;
        var f = Spec.InputSize;
        if (_batchX.Length < n * f) _batchX = new float[n * f];
        if (_batchY.Length < n) _batchY = new float[n];
        for (var k = 0; k < n; k++)
        {
            Standardizer.Transform(batch[k].X, _batchX.AsSpan(k * f, f));
            _batchY[k] = batch[k].Y;
        }
        Head.TrainStep(_batchX.AsSpan(0, n * f), _batchY.AsSpan(0, n), n);
        SampleGradients += n;
        TrainSteps++;
    }

    /// <summary>Standardised features and class targets of <paramref name="rows"/> in the row-major layout of the head.</summary>
    private protected (float[] X, float[] Y) Standardize(IReadOnlyList<LabelledRow> rows)
    {
        var f = Spec.InputSize;
        var x = new float[rows.Count * f];
        var y = new float[rows.Count];
        for (var k = 0; k < rows.Count; k++)
        {
            Standardizer.Transform(rows[k].X, x.AsSpan(k * f, f));
            y[k] = rows[k].Y;
        }
        return (x, y);
    }

    /// <summary>Releases the head.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Head.Dispose();
        GC.SuppressFinalize(this);
    }
}
