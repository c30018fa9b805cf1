using System.Buffers;
using ContinualLearning.Features;
using ContinualLearning.Learning;

namespace ContinualLearning.Pipelines;

/// <summary>
/// A feature model's input pipeline: validate and normalise the raw features (<see cref="FeaturePipeline"/>), then
/// the bundle's embedding extractor (backbone.onnx, or identity without one). Serving uses the two steps apart
/// (<see cref="Features"/>, <see cref="EmbedNormalized"/>) to feed the normalised values to the drift monitor.
/// </summary>
public sealed class FeatureInputPipeline : IInputPipeline
{
    private readonly IEmbeddingExtractor _extractor;

    /// <summary>Takes ownership of <paramref name="extractor"/>, which must read <paramref name="features"/>' count.</summary>
    public FeatureInputPipeline(FeaturePipeline features, IEmbeddingExtractor extractor)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(extractor);
        if (extractor.InputSize != features.Count)
            throw new ArgumentException($"The embedding extractor reads {extractor.InputSize} floats but the schema has {features.Count} features.", nameof(extractor));
        Features = features;
        _extractor = extractor;
    }

    /// <summary>The validation and normalisation step.</summary>
    public FeaturePipeline Features { get; }

    /// <inheritdoc/>
    public InputKind Kind => InputKind.Features;

    /// <inheritdoc/>
    public int OutputSize => _extractor.EmbeddingSize;

    /// <inheritdoc/>
    /// <exception cref="FeatureValidationException">Wrong feature count or a non-finite value.</exception>
    public void Embed(ReadOnlySpan<float> raw, Span<float> output)
    {
        var count = Features.Count;
        var normalized = ArrayPool<float>.Shared.Rent(count);
        try
        {
            Features.Normalize(raw, normalized.AsSpan(0, count));
            EmbedNormalized(normalized.AsSpan(0, count), output);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(normalized);
        }
    }

    /// <summary>The second step alone: normalised features → head input.</summary>
    public void EmbedNormalized(ReadOnlySpan<float> normalized, Span<float> output) =>
        _extractor.Embed(normalized, 1, output[..OutputSize]);

    /// <summary>Disposes the extractor.</summary>
    public void Dispose() => _extractor.Dispose();
}
