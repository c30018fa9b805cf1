using ContinualLearning.Bundle;
using ContinualLearning.Streams;

namespace ContinualLearning.Aggregator.Holdout;

/// <summary>
/// The gate's labelled samples and the pipeline they belong to. For a model without a pipeline they are raw features
/// (normalised at evaluation, as devices do) and <see cref="Pipeline"/> is null; for a model whose head input comes out
/// of a pipeline (audio, backbone) they are head inputs made by the pipeline <see cref="Pipeline"/> names
/// (<see cref="HoldoutPipeline.Fingerprint"/>), and the gate only scores releases with that same pipeline.
/// </summary>
internal sealed record HoldoutSet(IReadOnlyList<Sample> Samples, string? Pipeline)
{
    /// <summary>
    /// The set <paramref name="options"/> give for the served model <paramref name="manifest"/> (in-memory samples win
    /// over the CSV; they are taken as made for this model). A CSV of head inputs (<see cref="HoldoutEmbeddingsCsv"/>) is
    /// checked against the model's pipeline; a CSV of raw features is refused for a model with a pipeline.
    /// </summary>
    /// <exception cref="InvalidOperationException">The set does not fit the model (kind of input, pipeline, head width, task).</exception>
    /// <exception cref="InvalidDataException">The embeddings CSV is malformed.</exception>
    /// <exception cref="FormatException">The features CSV is malformed.</exception>
    public static HoldoutSet Load(HoldoutOptions options, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.Task.Kind != TaskKind.Classification)
            throw new InvalidOperationException($"The holdout gate measures accuracy; model {manifest.Name} is a {manifest.Task.Kind} model. Remove the holdout section.");
        var pipeline = HoldoutPipeline.Fingerprint(manifest);
        if (options.Samples is { } samples) return new HoldoutSet(samples, pipeline);
        var path = options.CsvPath
            ?? throw new ArgumentException("The holdout gate is on but has neither Samples nor CsvPath; give Holdout.CsvPath or remove the Holdout section.", nameof(options));
        if (!File.Exists(path))
            throw new FileNotFoundException($"holdout:csvPath {path} does not exist; point it at the holdout CSV or remove the holdout section.", path);
        if (HoldoutEmbeddingsCsv.IsEmbeddings(path))
            return new HoldoutSet(HoldoutEmbeddingsCsv.Read(path, options.LabelColumn, manifest), pipeline);
        if (pipeline is not null)
            throw new InvalidOperationException($"holdout:csvPath {path} does not start with '{HoldoutEmbeddingsCsv.Marker}': it is a CSV of raw features, but model {manifest.Name} {manifest.Version} takes {HoldoutPipeline.DescribeInput(manifest)}, so the gate scores head inputs (embeddings); {HoldoutPipeline.EmbedHint(manifest, path)}.");
        var csv = CsvStream.Load(path, new CsvStreamOptions
        {
            LabelColumn = options.LabelColumn,
            FeatureColumns = manifest.InputSchema.Features.Select(f => f.Name).ToArray(),
            Classes = manifest.Task.LabelNames,
        });
        return new HoldoutSet(csv.ToArray(), null);
    }

    /// <summary>Throws unless <paramref name="manifest"/> (a release or a candidate) takes what this set holds.</summary>
    /// <exception cref="InvalidOperationException">Its pipeline differs from the one the set was made with.</exception>
    public void CheckFits(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var pipeline = HoldoutPipeline.Fingerprint(manifest);
        if (pipeline == Pipeline) return;
        var problem = (Pipeline, pipeline) switch
        {
            (null, _) => $"takes {HoldoutPipeline.DescribeInput(manifest)}, but the holdout set holds raw features",
            (_, null) => $"takes {HoldoutPipeline.DescribeInput(manifest)}, but the holdout set holds embeddings of pipeline {Pipeline}",
            _ => $"embeds with pipeline {pipeline}, but the holdout set was made with pipeline {Pipeline}",
        };
        var remedy = pipeline is null ? "give a CSV of its features and the label column" : HoldoutPipeline.EmbedHint(manifest, "holdout.csv");
        throw new InvalidOperationException($"Model {manifest.Name} {manifest.Version} {problem}; no candidate is gated until the holdout is re-made for this release and the aggregator restarted ({remedy}).");
    }
}
