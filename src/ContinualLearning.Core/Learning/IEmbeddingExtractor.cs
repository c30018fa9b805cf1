namespace ContinualLearning.Learning;

/// <summary>
/// Turns normalised features into the head's input. With a backbone (backbone.onnx) this is the ONNX runner
/// (ContinualLearning.Onnx.OnnxBackbone has exactly this shape); without one it is <see cref="IdentityEmbeddingExtractor"/>.
/// Kept in Core so the learning loop does not depend on ONNX Runtime.
/// </summary>
public interface IEmbeddingExtractor : IDisposable
{
    /// <summary>Floats per input sample (the feature count).</summary>
    int InputSize { get; }

    /// <summary>Floats per output sample (the head's input size).</summary>
    int EmbeddingSize { get; }

    /// <summary>Embeds <paramref name="batch"/> row-major samples into <paramref name="embeddings"/> (batch × <see cref="EmbeddingSize"/>).</summary>
    void Embed(ReadOnlySpan<float> inputs, int batch, Span<float> embeddings);
}

/// <summary>The head reads the normalised features directly: embedding = input.</summary>
public sealed class IdentityEmbeddingExtractor : IEmbeddingExtractor
{
    public IdentityEmbeddingExtractor(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        InputSize = size;
    }

    public int InputSize { get; }

    public int EmbeddingSize => InputSize;

    public void Embed(ReadOnlySpan<float> inputs, int batch, Span<float> embeddings)
    {
        var n = batch * InputSize;
        if (inputs.Length < n || embeddings.Length < n)
            throw new ArgumentException($"Identity embedding of {batch} samples × {InputSize} needs {n} floats; got {inputs.Length} in, {embeddings.Length} out.", nameof(inputs));
        inputs[..n].CopyTo(embeddings);
    }

    public void Dispose()
    {
    }
}
