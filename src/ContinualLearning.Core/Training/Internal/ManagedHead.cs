using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ContinualLearning.Tensors;

namespace ContinualLearning.Training.Internal;

/// <summary>
/// The managed engine's MLP head. All parameters, gradients and optimiser state sit in flat arrays in
/// state_dict order; activations and backward deltas sit in buffers sized for the largest batch seen so far,
/// so a train or predict step allocates nothing once warm.
/// </summary>
internal sealed class ManagedHead : IHeadModel
{
    private const int MinimumCapacity = 16;

    private readonly ParameterLayout _layout;
    private readonly int[] _sizes;
    private readonly int _maxWidth;
    private readonly float[] _parameters;
    private readonly float[] _gradient;
    // SGD: momentum buffer in _state1. Adam: first moment in _state1, second in _state2.
    private readonly float[] _state1;
    private readonly float[] _state2;

    // _activations[l] holds the output of Linear l-1 after its activation (batch × _sizes[l]); index 0 is unused
    // because the input is the caller's span. The last entry holds the logits.
    private readonly float[][] _activations;
    private float[] _deltaA = [];
    private float[] _deltaB = [];
    private int _capacity;

    private long _optimizerStep;
    private float[]? _anchor;
    private float[]? _fisher;
    private float[]? _penaltyScratch;
    private float _lambda;
    private bool _disposed;

    public ManagedHead(HeadSpec spec, TrainingOptions options, ReadOnlySpan<float> initialParameters)
    {
        Spec = spec;
        Options = options;
        _layout = new ParameterLayout(spec);
        _sizes = spec.LayerSizes.ToArray();
        _maxWidth = _sizes.Max();
        _parameters = new float[_layout.Total];
        if (initialParameters.Length != _layout.Total)
            throw new ArgumentException($"Expected {_layout.Total} initial parameters for head {spec}; got {initialParameters.Length}.", nameof(initialParameters));
        initialParameters.CopyTo(_parameters);
        _gradient = new float[_layout.Total];
        _state1 = new float[_layout.Total];
        _state2 = options.Optimizer == OptimizerKind.Adam ? new float[_layout.Total] : [];
        _activations = new float[_sizes.Length][];
        for (var l = 0; l < _sizes.Length; l++) _activations[l] = [];
    }

    public HeadSpec Spec { get; }

    public TrainingOptions Options { get; }

    /// <summary>Steps over the model's life; SetWeights resets the optimiser's own step count (bias correction), not this.</summary>
    public long Steps { get; private set; }

    /// <summary>The flat parameters in state_dict order (tests and benchmarks read them).</summary>
    internal ReadOnlySpan<float> Parameters => _parameters;

    /// <summary>The gradient left by the last <see cref="LossAndGradient"/> (before weight decay is folded in by a step).</summary>
    internal ReadOnlySpan<float> Gradient => _gradient;

    internal ParameterLayout Layout => _layout;

    public float TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int batch)
    {
        var loss = LossAndGradient(x, targets, batch, includePenalty: true);
        _optimizerStep++;
        Steps++;
        var o = Options;
        if (o.Optimizer == OptimizerKind.Sgd)
            Optimizers.SgdStep(_parameters, _gradient, _state1, _optimizerStep, o.LearningRate, o.Momentum, o.WeightDecay);
        else
            Optimizers.AdamStep(_parameters, _gradient, _state1, _state2, _optimizerStep, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay);
        return loss;
    }

    /// <summary>Forward and backward pass: fills <see cref="Gradient"/> and returns the mean loss (+ EWC penalty when asked).</summary>
    internal float LossAndGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int batch, bool includePenalty)
    {
        ThrowIfDisposed();
        CheckBatch(x, batch);
        if (targets.Length != batch * Spec.TargetWidth)
            throw new ArgumentException(
                $"Targets hold {targets.Length} floats; a batch of {batch} for head {Spec} needs exactly {batch * Spec.TargetWidth} ({Spec.TargetWidth} per sample).",
                nameof(targets));
        EnsureCapacity(batch);
        Forward(x, batch);
        var outputs = Spec.OutputSize;
        var loss = Losses.LossAndGradient(Spec.Loss, _activations[^1].AsSpan(0, batch * outputs), targets, batch, outputs, _deltaA);
        Backward(x, batch);
        if (includePenalty && _anchor is not null)
            loss += AddPenalty();
        return loss;
    }

    public void Predict(ReadOnlySpan<float> x, int batch, Span<float> output)
    {
        ThrowIfDisposed();
        CheckBatch(x, batch);
        var count = batch * Spec.OutputSize;
        if (output.Length < count)
            throw new ArgumentException(
                $"Output holds {output.Length} floats; a batch of {batch} for head {Spec} needs {count} ({Spec.OutputSize} per sample).", nameof(output));
        EnsureCapacity(batch);
        Forward(x, batch);
        var result = output[..count];
        _activations[^1].AsSpan(0, count).CopyTo(result);
        Losses.OutputTransform(Spec.Loss, result, batch, Spec.OutputSize);
    }

    public IReadOnlyList<NamedTensor> GetWeights()
    {
        ThrowIfDisposed();
        return _layout.Scatter(_parameters);
    }

    public void SetWeights(IReadOnlyList<NamedTensor> weights)
    {
        ThrowIfDisposed();
        _layout.Gather(weights, _parameters, "weights");
        Array.Clear(_state1);
        Array.Clear(_state2);
        _optimizerStep = 0;
    }

    public void SetPenalty(EwcPenalty? penalty)
    {
        ThrowIfDisposed();
        if (penalty is null)
        {
            _anchor = _fisher = _penaltyScratch = null;
            return;
        }
        if (!float.IsFinite(penalty.Lambda) || penalty.Lambda < 0)
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty.Lambda, $"EWC lambda is {penalty.Lambda}; it must be a finite number >= 0.");
        var anchor = new float[_layout.Total];
        var fisher = new float[_layout.Total];
        _layout.Gather(penalty.Anchor, anchor, "EWC anchor");
        _layout.Gather(penalty.Fisher, fisher, "EWC Fisher");
        if (TensorPrimitives.Min(fisher) < 0)
            throw new ArgumentException("The EWC Fisher diagonal holds a negative value; a Fisher diagonal is a mean of squares and must be >= 0.", nameof(penalty));
        _anchor = anchor;
        _fisher = fisher;
        _penaltyScratch = new float[2 * _layout.Total]; // θ−θ* and F·(θ−θ*)
        _lambda = penalty.Lambda;
    }

    public IReadOnlyList<NamedTensor> FisherDiagonal(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int count)
    {
        ThrowIfDisposed();
        if (count <= 0)
            throw new ArgumentOutOfRangeException(nameof(count), count, "The Fisher diagonal needs at least one sample.");
        CheckBatch(x, count);
        var width = Spec.TargetWidth;
        if (targets.Length != count * width)
            throw new ArgumentException($"Targets hold {targets.Length} floats; {count} samples for head {Spec} need exactly {count * width}.", nameof(targets));
        var sum = new float[_layout.Total];
        var input = Spec.InputSize;
        for (var i = 0; i < count; i++)
        {
            // Per-sample gradient of the data loss (a batch of one, no EWC term): the empirical Fisher.
            LossAndGradient(x.Slice(i * input, input), targets.Slice(i * width, width), 1, includePenalty: false);
            TensorPrimitives.MultiplyAdd(_gradient, _gradient, sum, sum);
        }
        TensorPrimitives.Multiply(sum, 1f / count, sum);
        return _layout.Scatter(sum);
    }

    public void Dispose() => _disposed = true;

    private void Forward(ReadOnlySpan<float> x, int batch)
    {
        var layers = _sizes.Length - 1;
        for (var l = 0; l < layers; l++)
        {
            int inSize = _sizes[l], outSize = _sizes[l + 1];
            ReadOnlySpan<float> input = l == 0 ? x : _activations[l].AsSpan(0, batch * inSize);
            var output = _activations[l + 1].AsSpan(0, batch * outSize);
            var weight = _parameters.AsSpan(_layout.WeightOffset(l), outSize * inSize);
            var bias = _parameters.AsSpan(_layout.BiasOffset(l), outSize);
            // Z = X·Wᵀ: W is stored [out, in] as in PyTorch, i.e. already "B transposed".
            Gemm.Multiply(false, true, batch, outSize, inSize, 1f, input, inSize, weight, inSize, 0f, output, outSize);
            AddToRows(output, bias, batch);
            if (l < layers - 1 && Spec.HiddenActivation == Activation.Relu)
                TensorPrimitives.Max(output, 0f, output);
        }
    }

    /// <summary>Back-propagates the loss gradient held in <c>_deltaA</c> into <c>_gradient</c>.</summary>
    private void Backward(ReadOnlySpan<float> x, int batch)
    {
        var delta = _deltaA;
        var next = _deltaB;
        for (var l = _sizes.Length - 2; l >= 0; l--)
        {
            int inSize = _sizes[l], outSize = _sizes[l + 1];
            ReadOnlySpan<float> input = l == 0 ? x : _activations[l].AsSpan(0, batch * inSize);
            var d = delta.AsSpan(0, batch * outSize);
            var weightGrad = _gradient.AsSpan(_layout.WeightOffset(l), outSize * inSize);
            var biasGrad = _gradient.AsSpan(_layout.BiasOffset(l), outSize);
            // dW = dZᵀ·X ([out, batch]·[batch, in]); db = column sums of dZ.
            Gemm.Multiply(true, false, outSize, inSize, batch, 1f, d, outSize, input, inSize, 0f, weightGrad, inSize);
            SumRows(d, batch, biasGrad);
            if (l == 0) break;
            // dX = dZ·W ([batch, out]·[out, in]), then through the activation of layer l-1.
            var weight = _parameters.AsSpan(_layout.WeightOffset(l), outSize * inSize);
            var dx = next.AsSpan(0, batch * inSize);
            Gemm.Multiply(false, false, batch, inSize, outSize, 1f, d, outSize, weight, inSize, 0f, dx, inSize);
            if (Spec.HiddenActivation == Activation.Relu)
                ReluBackward(input, dx);
            (delta, next) = (next, delta);
        }
    }

    /// <summary>Rows at most this wide use plain loops: a vectorised span call per row costs more than it saves.</summary>
    private const int NarrowRow = 16;

    /// <summary>Adds <paramref name="row"/> to each of the <paramref name="rows"/> rows of <paramref name="matrix"/> (bias broadcast).</summary>
    private static void AddToRows(Span<float> matrix, ReadOnlySpan<float> row, int rows)
    {
        var width = row.Length;
        for (var r = 0; r < rows; r++)
        {
            var target = matrix.Slice(r * width, width);
            if (width > NarrowRow)
            {
                TensorPrimitives.Add(target, row, target);
            }
            else
            {
                for (var j = 0; j < width; j++) target[j] += row[j];
            }
        }
    }

    /// <summary>Column sums of a rows × sum.Length matrix, summed row by row in order (as before, so results do not move).</summary>
    private static void SumRows(ReadOnlySpan<float> matrix, int rows, Span<float> sum)
    {
        var width = sum.Length;
        matrix[..width].CopyTo(sum);
        for (var r = 1; r < rows; r++)
        {
            var source = matrix.Slice(r * width, width);
            if (width > NarrowRow)
            {
                TensorPrimitives.Add(sum, source, sum);
            }
            else
            {
                for (var j = 0; j < width; j++) sum[j] += source[j];
            }
        }
    }

    /// <summary>Zeroes <paramref name="delta"/> where the ReLU output was not positive (PyTorch: gradient 0 at 0).</summary>
    private static void ReluBackward(ReadOnlySpan<float> activation, Span<float> delta)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && delta.Length >= Vector<float>.Count)
        {
            var a = MemoryMarshal.Cast<float, Vector<float>>(activation);
            var d = MemoryMarshal.Cast<float, Vector<float>>(delta);
            for (var v = 0; v < d.Length; v++)
                d[v] = Vector.ConditionalSelect(Vector.GreaterThan(a[v], Vector<float>.Zero), d[v], Vector<float>.Zero);
            i = d.Length * Vector<float>.Count;
        }
        for (; i < delta.Length; i++)
        {
            if (!(activation[i] > 0f)) delta[i] = 0f;
        }
    }

    /// <summary>Adds λ·F·(θ−θ*) to the gradient and returns λ/2·Σ F·(θ−θ*)².</summary>
    private float AddPenalty()
    {
        var total = _layout.Total;
        var diff = _penaltyScratch.AsSpan(0, total);
        var weighted = _penaltyScratch.AsSpan(total, total);
        TensorPrimitives.Subtract(_parameters, _anchor, diff);
        TensorPrimitives.Multiply(diff, _fisher, weighted);
        var penalty = 0.5f * _lambda * TensorPrimitives.Dot(weighted, diff);
        TensorPrimitives.MultiplyAdd(weighted, _lambda, _gradient, _gradient);
        return penalty;
    }

    private void EnsureCapacity(int batch)
    {
        if (batch <= _capacity) return;
        var capacity = Math.Max(MinimumCapacity, (int)BitOperations.RoundUpToPowerOf2((uint)batch));
        for (var l = 1; l < _sizes.Length; l++)
            _activations[l] = new float[checked(capacity * _sizes[l])];
        _deltaA = new float[checked(capacity * _maxWidth)];
        _deltaB = new float[checked(capacity * _maxWidth)];
        _capacity = capacity;
    }

    private void CheckBatch(ReadOnlySpan<float> x, int batch)
    {
        if (batch <= 0)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "The batch size must be at least 1.");
        // Exact lengths, as the torch engine demands: a longer buffer is usually a batch-size bug, and both engines must accept the same calls.
        if (x.Length != batch * Spec.InputSize)
            throw new ArgumentException(
                $"Inputs hold {x.Length} floats; a batch of {batch} for head {Spec} needs exactly {batch * Spec.InputSize} ({Spec.InputSize} per sample, row-major).",
                nameof(x));
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
