using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ContinualLearning.Bundle;
using ContinualLearning.Pipelines;

namespace ContinualLearning.Aggregator.Holdout;

/// <summary>
/// What the holdout gate feeds a model's head, and the identity of the pipeline that makes it. A model whose head input
/// comes out of a pipeline (audio stages, or a feature backbone) is gated on head inputs — embeddings made by that
/// pipeline — so the aggregator never needs raw audio or ONNX Runtime. Embeddings are only valid for the pipeline that
/// made them: <see cref="Fingerprint"/> names it, from the signed manifest alone.
/// </summary>
internal static class HoldoutPipeline
{
    private const string FingerprintVersion = "cl-holdout-pipeline/1";

    /// <summary>True when the head input is made by a pipeline (audio stages or a backbone), not the normalised features.</summary>
    public static bool HasPipeline(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.InputSchema.Kind != InputKind.Features || manifest.InputSchema.EmbeddingSize is not null;
    }

    /// <summary>
    /// SHA-256 (lower-case hex) over the manifest's canonical <c>inputSchema</c> (kind, audio format, features and their
    /// statistics, stages with every parameter, embedding size) and the SHA-256 of every file the pipeline runs (stage
    /// files in order, the backbone). Equal fingerprints give equal embeddings for equal input; any change to what
    /// produces them changes it. Null for a model without a pipeline.
    /// </summary>
    public static string? Fingerprint(ModelManifest manifest)
    {
        if (!HasPipeline(manifest)) return null;
        using var document = JsonDocument.Parse(manifest.CanonicalBytesForSigning());
        var text = new StringBuilder(FingerprintVersion).Append('\n')
            .Append(document.RootElement.GetProperty("inputSchema").GetRawText()).Append('\n');
        var files = manifest.InputSchema.StageFiles.ToList();
        if (manifest.Files.ContainsKey(ModelManifest.BackboneFileName)) files.Add(ModelManifest.BackboneFileName);
        foreach (var file in files)
            text.Append(file).Append('=').Append(manifest.Files.TryGetValue(file, out var sha) ? sha : "-").Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The model's input in words, for errors: "audio (16,000 Hz) through 5 stages" or "3 features through backbone.onnx".</summary>
    public static string DescribeInput(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var schema = manifest.InputSchema;
        return schema.Kind switch
        {
            InputKind.Features when schema.EmbeddingSize is null => $"{schema.Features.Count} features (normalised, no pipeline)",
            InputKind.Features => $"{schema.Features.Count} features through {ModelManifest.BackboneFileName}",
            _ => $"{schema.Kind.ToString().ToLowerInvariant()} through {schema.Stages.Count} stages",
        };
    }

    /// <summary>How to make the holdout CSV of head inputs for this model with its own pipeline.</summary>
    public static string EmbedHint(ModelManifest manifest, string output)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var source = manifest.InputSchema.Kind == InputKind.Features ? "--features FEATURES.csv" : "--clips LABELLED-WAVS";
        return $"make it with the release's own pipeline: `cl holdout embed --bundle RELEASE-DIR {source} --out {output}` (docs/aggregator.md, \"Holdout gate\")";
    }
}
