using System.Runtime.InteropServices;
using ContinualLearning.Tensors;
using ContinualLearning.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ContinualLearning.Torch;

/// <summary>
/// An MLP head as a TorchSharp <c>nn.Sequential</c>. Every step and prediction runs in its own dispose scope so
/// native memory stays flat however many steps run; the only long-lived native tensors are the parameters,
/// the optimiser state and the EWC anchor/Fisher.
/// </summary>
internal sealed class TorchHeadModel : IHeadModel
{
    private readonly Sequential _model;
    private readonly Parameter[] _parameters;
    private readonly string[] _names;
    private readonly Dictionary<string, int> _indexByName;
    private readonly nn.Module<Tensor, Tensor, Tensor> _loss;
    private optim.Optimizer _optimizer;
    private Tensor[]? _anchor;
    private Tensor[]? _fisher;
    private float _lambda;
    private bool _disposed;

    public TorchHeadModel(HeadSpec spec, TrainingOptions options, IReadOnlyList<NamedTensor> initialWeights)
    {
        Spec = spec;
        Options = options;

        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (var l = 0; l < spec.LinearCount; l++)
        {
            modules.Add((HeadSpec.ModuleIndex(l).ToString(), nn.Linear(spec.LayerSizes[l], spec.LayerSizes[l + 1])));
            if (l < spec.LinearCount - 1)
            {
                // Identity keeps the nn.Sequential numbering (Linear i at 2·i) when there is no activation.
                nn.Module<Tensor, Tensor> act = spec.HiddenActivation == Activation.Relu ? nn.ReLU() : nn.Identity();
                modules.Add(((HeadSpec.ModuleIndex(l) + 1).ToString(), act));
            }
        }
        _model = nn.Sequential(modules);

        var named = _model.named_parameters().ToArray();
        _parameters = named.Select(p => p.parameter).ToArray();
        _names = named.Select(p => p.name).ToArray();
        var expected = spec.Parameters().Select(p => p.Name).ToArray();
        if (!_names.SequenceEqual(expected))
            throw new InvalidOperationException($"TorchSharp named the parameters [{string.Join(", ", _names)}], expected [{string.Join(", ", expected)}].");
        _indexByName = _names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);

        _loss = spec.Loss switch
        {
            LossKind.SoftmaxCrossEntropy => nn.CrossEntropyLoss(),
            LossKind.BinaryCrossEntropy => nn.BCEWithLogitsLoss(),
            LossKind.MeanSquaredError => nn.MSELoss(),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Loss, "Unknown loss kind."),
        };

        CopyIn(initialWeights, nameof(initialWeights));
        _optimizer = CreateOptimizer();
    }

    public HeadSpec Spec { get; }

    public TrainingOptions Options { get; }

    public long Steps { get; private set; }

    public float TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int batch)
    {
        ThrowIfDisposed();
        CheckBatch(x, targets, batch);
        using var scope = NewDisposeScope();
        using var input = FromSpan(x, batch, Spec.InputSize);
        using var target = TargetTensor(targets, batch);

        _optimizer.zero_grad();
        var output = _model.forward(input);
        var loss = _loss.forward(output, target);
        if (_anchor is not null && _fisher is not null && _lambda != 0)
            loss = loss + EwcPenaltyTerm();
        loss.backward();
        _optimizer.step();
        Steps++;
        return loss.item<float>();
    }

    public void Predict(ReadOnlySpan<float> x, int batch, Span<float> output)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        CheckLength(x.Length, batch * Spec.InputSize, "x", batch, Spec.InputSize);
        if (output.Length < batch * Spec.OutputSize)
            throw new ArgumentException($"The output buffer holds {output.Length} floats; a batch of {batch} needs {batch * Spec.OutputSize} (batch × {Spec.OutputSize} outputs).", nameof(output));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var input = FromSpan(x, batch, Spec.InputSize);
        var logits = _model.forward(input);
        var result = Spec.Loss switch
        {
            LossKind.SoftmaxCrossEntropy => logits.softmax(1),
            LossKind.BinaryCrossEntropy => logits.sigmoid(),
            _ => logits,
        };
        AsFloats(result.contiguous())[..(batch * Spec.OutputSize)].CopyTo(output);
    }

    public IReadOnlyList<NamedTensor> GetWeights()
    {
        ThrowIfDisposed();
        var result = new NamedTensor[_parameters.Length];
        for (var i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            var data = new float[p.numel()];
            AsFloats(p).CopyTo(data);
            result[i] = new NamedTensor(_names[i], p.shape.Select(d => (int)d).ToArray(), data);
        }
        return result;
    }

    public void SetWeights(IReadOnlyList<NamedTensor> weights)
    {
        ThrowIfDisposed();
        CopyIn(weights, nameof(weights));
        // Momentum / Adam moments belong to the old weights; a fresh optimiser is what "reset" means in PyTorch.
        _optimizer.Dispose();
        _optimizer = CreateOptimizer();
    }

    public void SetPenalty(EwcPenalty? penalty)
    {
        ThrowIfDisposed();
        if (penalty is null)
        {
            DisposePenalty();
            return;
        }
        if (!float.IsFinite(penalty.Lambda) || penalty.Lambda < 0)
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty.Lambda, $"EWC lambda = {penalty.Lambda} is invalid: it must be a finite number >= 0.");
        var anchor = ToOrderedTensors(penalty.Anchor, "EWC anchor");
        var fisher = ToOrderedTensors(penalty.Fisher, "EWC Fisher");
        DisposePenalty();
        _anchor = anchor;
        _fisher = fisher;
        _lambda = penalty.Lambda;
    }

    public IReadOnlyList<NamedTensor> FisherDiagonal(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int count)
    {
        ThrowIfDisposed();
        CheckBatch(x, targets, count);
        using var scope = NewDisposeScope();
        var input = FromSpan(x, count, Spec.InputSize);
        var target = TargetTensor(targets, count);
        var sums = _parameters.Select(p => zeros_like(p)).ToArray();
        for (var s = 0; s < count; s++)
        {
            // Per-sample gradient of the data loss only (no EWC term): the empirical Fisher of this sample.
            using var sampleScope = NewDisposeScope();
            _model.zero_grad();
            var loss = _loss.forward(_model.forward(input.narrow(0, s, 1)), target.narrow(0, s, 1));
            loss.backward();
            for (var i = 0; i < _parameters.Length; i++)
                sums[i].add_(_parameters[i].grad!.square());
        }
        _model.zero_grad();

        var result = new NamedTensor[_parameters.Length];
        for (var i = 0; i < _parameters.Length; i++)
        {
            var data = new float[_parameters[i].numel()];
            AsFloats(sums[i].div_(count)).CopyTo(data);
            result[i] = new NamedTensor(_names[i], _parameters[i].shape.Select(d => (int)d).ToArray(), data);
        }
        return result;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposePenalty();
        _optimizer.Dispose();
        _loss.Dispose();
        _model.Dispose();
    }

    private Tensor EwcPenaltyTerm()
    {
        Tensor? sum = null;
        for (var i = 0; i < _parameters.Length; i++)
        {
            var term = (_fisher![i] * (_parameters[i] - _anchor![i]).square()).sum();
            sum = sum is null ? term : sum + term;
        }
        return sum! * (_lambda / 2f);
    }

    private optim.Optimizer CreateOptimizer() => Options.Optimizer switch
    {
        OptimizerKind.Sgd => optim.SGD(_parameters, Options.LearningRate, momentum: Options.Momentum, dampening: 0, weight_decay: Options.WeightDecay, nesterov: false),
        OptimizerKind.Adam => optim.Adam(_parameters, Options.LearningRate, beta1: Options.Beta1, beta2: Options.Beta2, eps: Options.Epsilon, weight_decay: Options.WeightDecay),
        _ => throw new ArgumentOutOfRangeException(nameof(Options), Options.Optimizer, "Unknown optimiser kind."),
    };

    /// <summary>Validates names and shapes against the spec, then copies the values into the parameters.</summary>
    private void CopyIn(IReadOnlyList<NamedTensor> weights, string argument)
    {
        var ordered = Order(weights, argument);
        for (var i = 0; i < _parameters.Length; i++)
            ordered[i].Data.AsSpan().CopyTo(AsFloats(_parameters[i]));
    }

    private Tensor[] ToOrderedTensors(IReadOnlyList<NamedTensor> tensors, string what)
    {
        var ordered = Order(tensors, what);
        var result = new Tensor[ordered.Length];
        for (var i = 0; i < ordered.Length; i++)
        {
            var t = empty(_parameters[i].shape, ScalarType.Float32);
            ordered[i].Data.AsSpan().CopyTo(AsFloats(t));
            // Long-lived: must not die with a dispose scope the caller may have open.
            result[i] = t.DetachFromDisposeScope();
        }
        return result;
    }

    /// <summary>Puts <paramref name="tensors"/> into state_dict order, checking every name and shape.</summary>
    private NamedTensor[] Order(IReadOnlyList<NamedTensor> tensors, string what)
    {
        ArgumentNullException.ThrowIfNull(tensors, what);
        var expected = string.Join(", ", Spec.Parameters().Select(p => $"{p.Name} [{string.Join(", ", p.Shape)}]"));
        if (tensors.Count != _parameters.Length)
            throw new ArgumentException($"{what}: {tensors.Count} tensors given, the head {Spec} has {_parameters.Length}: {expected}.", what);
        var ordered = new NamedTensor[_parameters.Length];
        foreach (var t in tensors)
        {
            if (!_indexByName.TryGetValue(t.Name, out var i))
                throw new ArgumentException($"{what}: tensor '{t.Name}' is not a parameter of the head {Spec}; expected {expected}.", what);
            if (ordered[i] is not null)
                throw new ArgumentException($"{what}: tensor '{t.Name}' appears twice.", what);
            var shape = _parameters[i].shape;
            if (t.Shape.Length != shape.Length || !t.Shape.Select(d => (long)d).SequenceEqual(shape))
                throw new ArgumentException($"{what}: tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], the head {Spec} needs [{string.Join(", ", shape)}].", what);
            ordered[i] = t;
        }
        return ordered;
    }

    private void CheckBatch(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        CheckLength(x.Length, batch * Spec.InputSize, "x", batch, Spec.InputSize);
        CheckLength(targets.Length, batch * Spec.TargetWidth, "targets", batch, Spec.TargetWidth);
    }

    private static void CheckLength(int actual, int needed, string buffer, int batch, int width)
    {
        if (actual != needed)
            throw new ArgumentException($"'{buffer}' holds {actual} floats; a batch of {batch} needs exactly {needed} ({batch} × {width}).", buffer);
    }

    /// <summary>Targets as the loss wants them: int64 class indices for cross-entropy, floats otherwise.</summary>
    private Tensor TargetTensor(ReadOnlySpan<float> targets, int batch)
    {
        if (Spec.Loss != LossKind.SoftmaxCrossEntropy)
            return FromSpan(targets, batch, Spec.OutputSize);

        var t = empty(batch, ScalarType.Int64);
        var indices = MemoryMarshal.Cast<byte, long>(t.bytes);
        for (var i = 0; i < batch; i++)
        {
            var v = targets[i];
            if (!(v >= 0 && v < Spec.OutputSize) || v != MathF.Floor(v))
            {
                t.Dispose();
                throw new ArgumentException($"Target {v} at row {i} is not a class index in [0, {Spec.OutputSize}) for the head {Spec}.", nameof(targets));
            }
            indices[i] = (long)v;
        }
        return t;
    }

    private static Tensor FromSpan(ReadOnlySpan<float> data, int rows, int columns)
    {
        var t = empty(rows, columns, ScalarType.Float32);
        data.CopyTo(AsFloats(t));
        return t;
    }

    /// <summary>The tensor's own (contiguous, CPU) storage as floats: no managed copy.</summary>
    private static Span<float> AsFloats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    private void DisposePenalty()
    {
        foreach (var t in _anchor ?? []) t.Dispose();
        foreach (var t in _fisher ?? []) t.Dispose();
        _anchor = null;
        _fisher = null;
        _lambda = 0;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
