using ContinualLearning.Tensors;

namespace ContinualLearning.Training;

/// <summary>
/// A training engine creates trainable heads. Two exist: "managed" (pure C#, runs on linux-arm64)
/// and "torch" (TorchSharp, the reference). Both implement the same maths so weights are interchangeable.
/// </summary>
public interface ITrainingEngine
{
    /// <summary>"managed" or "torch".</summary>
    string Name { get; }

    /// <summary>
    /// Creates a head. With <paramref name="initialWeights"/> null, weights are initialised like PyTorch's
    /// nn.Linear (Kaiming-uniform, bound 1/sqrt(fan_in)) from <paramref name="seed"/>.
    /// </summary>
    IHeadModel Create(HeadSpec spec, TrainingOptions options, IReadOnlyList<NamedTensor>? initialWeights = null, int seed = 0);
}

/// <summary>
/// A trainable MLP head. Buffers are row-major: <c>x</c> is batch × InputSize, targets are
/// batch × <see cref="HeadSpec.TargetWidth"/>, outputs batch × OutputSize.
/// Not thread-safe: one trainer at a time (predictions of a champion while a challenger trains use two models).
/// </summary>
public interface IHeadModel : IDisposable
{
    /// <summary>The head's shape.</summary>
    HeadSpec Spec { get; }
/// <summary>The optimiser settings the head trains with.</summary>

    TrainingOptions Options { get; }

    /// <summary>Optimiser steps taken so far.</summary>
    long Steps { get; }

    /// <summary>One optimiser step on a micro-batch (mean loss over the batch, plus the EWC penalty if set). Returns the loss.</summary>
    float TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int batch);

    /// <summary>
    /// Writes predictions for a batch: class probabilities (softmax), per-output probabilities (sigmoid)
    /// or raw values (regression), depending on the loss.
    /// </summary>
    void Predict(ReadOnlySpan<float> x, int batch, Span<float> output);

    /// <summary>Copies of the current weights in state_dict order.</summary>
    IReadOnlyList<NamedTensor> GetWeights();

    /// <summary>Replaces the weights (names and shapes must match the spec). Optimiser state is reset.</summary>
    void SetWeights(IReadOnlyList<NamedTensor> weights);

    /// <summary>Sets or clears (null) the EWC penalty used by subsequent train steps.</summary>
    void SetPenalty(EwcPenalty? penalty);

    /// <summary>
    /// Empirical diagonal Fisher information: the mean over the <paramref name="count"/> samples of the squared
    /// per-sample gradient of the loss, per parameter, in state_dict order.
    /// </summary>
    IReadOnlyList<NamedTensor> FisherDiagonal(ReadOnlySpan<float> x, ReadOnlySpan<float> targets, int count);
}
