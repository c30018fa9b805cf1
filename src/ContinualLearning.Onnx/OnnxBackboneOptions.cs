namespace ContinualLearning.Onnx;

/// <summary>How an <see cref="OnnxBackbone"/> runs its model.</summary>
public sealed record OnnxBackboneOptions
{
    /// <summary>
    /// ONNX Runtime intra-op threads. 1 by default: devices have 1–4 cores shared with training and serving,
    /// and small backbones gain little from threads. 0 lets ONNX Runtime use every core.
    /// </summary>
    public int IntraOpNumThreads { get; init; } = 1;

    /// <summary>Largest number of samples per ONNX Runtime call; bigger inputs are split so memory stays bounded.</summary>
    public int MaxChunkSize { get; init; } = 256;

    /// <summary>The model output to use as the embedding; null takes the model's first output.</summary>
    public string? OutputName { get; init; }

    /// <summary>Throws with the offending option when a value is out of range.</summary>
    public void Validate()
    {
        if (IntraOpNumThreads < 0)
            throw new ArgumentOutOfRangeException(nameof(IntraOpNumThreads), IntraOpNumThreads, "Backbone option 'IntraOpNumThreads' must be >= 0 (0 = let ONNX Runtime choose).");
        if (MaxChunkSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxChunkSize), MaxChunkSize, "Backbone option 'MaxChunkSize' must be > 0.");
    }
}
