namespace ContinualLearning.Pipelines;

/// <summary>
/// One step of an input pipeline as the manifest declares it (<c>inputSchema.stages[i]</c>, discriminated by "op").
/// Stages run in order on a tensor whose first dimension is the batch; the last stage's output is the head input.
/// </summary>
public abstract record PipelineStageSpec;

/// <summary>Runs a bundle file with ONNX Runtime (op "onnx"). Non-batch dimensions may be dynamic.</summary>
/// <param name="File">Bundle file name (hashed in manifest <c>files</c>, covered by the signature).</param>
public sealed record OnnxStageSpec(string File) : PipelineStageSpec;

/// <summary>Element-wise <c>x * Scale + Offset</c> (op "affine"); openWakeWord scales log-mel frames by 1/10 and adds 2.</summary>
public sealed record AffineStageSpec(float Scale, float Offset) : PipelineStageSpec;

/// <summary>Slides a window of <see cref="Size"/> frames with <see cref="Stride"/> over [1, frames, bins] giving [windows, Size, bins] (op "window").</summary>
public sealed record WindowStageSpec(int Size, int Stride) : PipelineStageSpec;

/// <summary>How <see cref="PoolStageSpec"/> reduces the windows of one clip to one vector.</summary>
public enum PoolMode
{
    /// <summary>Mean over windows.</summary>
    Mean,

    /// <summary>Maximum over windows.</summary>
    Max,

    /// <summary>Mean and maximum concatenated (twice the width).</summary>
    MeanMax,
}

/// <summary>Reduces [windows, d] to [1, d] (or [1, 2d] for <see cref="PoolMode.MeanMax"/>) (op "pool").</summary>
public sealed record PoolStageSpec(PoolMode Mode) : PipelineStageSpec;

/// <summary>
/// Per-dimension <c>(x − Mean[j]) / Std[j]</c> over each row of width <c>Mean.Count</c> (op "standardize"): puts pooled
/// embeddings (speech: |x| ≈ 10, up to ±40) on the unit scale a freshly initialised head trains well on.
/// </summary>
public sealed record StandardizeStageSpec(IReadOnlyList<float> Mean, IReadOnlyList<float> Std) : PipelineStageSpec
{
    /// <summary>Value equality: the statistics are compared element by element, not by reference.</summary>
    public bool Equals(StandardizeStageSpec? other) =>
        other is not null && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Mean.Count, Std.Count);
}
