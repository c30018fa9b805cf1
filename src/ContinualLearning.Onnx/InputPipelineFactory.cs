using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Onnx;

/// <summary>Builds the one input pipeline a bundle's manifest declares; serving, training data and experiments share it.</summary>
public static class InputPipelineFactory
{
    /// <summary>
    /// The bundle's pipeline: for a feature model, normalisation plus its backbone (<paramref name="backboneFactory"/>,
    /// default <see cref="OnnxBackbone"/>) or identity; for an audio model, its stages run with ONNX Runtime (one
    /// intra-op thread each). The caller owns (disposes) the result.
    /// </summary>
    /// <exception cref="BundleException">The backbone or stages do not produce what the manifest declares, or a stage model cannot be loaded.</exception>
    public static IInputPipeline Create(ModelBundle bundle, Func<string, IEmbeddingExtractor>? backboneFactory = null)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var schema = bundle.Manifest.InputSchema;
        switch (schema.Kind)
        {
            case InputKind.Features:
                return new FeatureInputPipeline(bundle.Features, CreateExtractor(bundle, backboneFactory));
            case InputKind.Audio:
                try
                {
                    return AudioInputPipeline.Create(schema.Audio!, schema.Stages, f => bundle.StageFiles[f], schema.HeadInputSize);
                }
                catch (Exception e) when (e is InvalidDataException or InvalidOperationException or ArgumentException)
                {
                    throw new BundleException(Path.Combine(bundle.Directory, ModelManifest.ManifestFileName), "inputSchema.stages", e.Message, e);
                }
            default:
                throw new BundleException(Path.Combine(bundle.Directory, ModelManifest.ManifestFileName), "inputSchema.kind",
                    $"'{schema.Kind}' is not supported by this runtime; it serves feature and audio models.");
        }
    }

    /// <summary>Identity without a backbone, else the backbone factory; sizes checked against the manifest.</summary>
    private static IEmbeddingExtractor CreateExtractor(ModelBundle bundle, Func<string, IEmbeddingExtractor>? backboneFactory)
    {
        if (bundle.BackbonePath is null) return new IdentityEmbeddingExtractor(bundle.Features.Count);
        // Default: ONNX Runtime, one intra-op thread (devices have 1–4 cores and also train).
        var factory = backboneFactory ?? (path => new OnnxBackbone(path));
        var extractor = factory(bundle.BackbonePath);
        if (extractor.InputSize != bundle.Features.Count || extractor.EmbeddingSize != bundle.Head.InputSize)
        {
            var message = $"Backbone {bundle.BackbonePath} maps {extractor.InputSize} → {extractor.EmbeddingSize} floats; the manifest needs {bundle.Features.Count} features → {bundle.Head.InputSize} head inputs.";
            extractor.Dispose();
            throw new BundleException(message);
        }
        return extractor;
    }
}
