using ContinualLearning.Bundle;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Holdout;

/// <summary>
/// Accuracy of head weights on a labelled holdout set, with the managed engine (it runs wherever the aggregator
/// runs, no native dependency). Features are normalised with the bundle's own statistics, as devices do.
/// </summary>
internal static class HoldoutEvaluator
{
    /// <summary>Loads the holdout samples from options (in-memory samples win over the CSV).</summary>
    public static IReadOnlyList<Sample> LoadSamples(HoldoutOptions options, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(manifest);
        if (options.Samples is { } samples) return samples;
        if (options.CsvPath is null)
            throw new ArgumentException("The holdout gate is on but has neither Samples nor CsvPath; give Holdout.CsvPath or remove the Holdout section.");
        var csv = CsvStream.Load(options.CsvPath, new CsvStreamOptions
        {
            LabelColumn = options.LabelColumn,
            FeatureColumns = manifest.InputSchema.Features.Select(f => f.Name).ToArray(),
            Classes = manifest.Task.LabelNames,
        });
        return csv.ToArray();
    }

    public static double Accuracy(ModelManifest manifest, IReadOnlyList<NamedTensor> weights, IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(samples);
        if (manifest.Task.Kind != TaskKind.Classification)
            throw new NotSupportedException($"The holdout gate measures accuracy; model {manifest.Name} is a {manifest.Task.Kind} model. Remove the Holdout section.");
        if (manifest.InputSchema.EmbeddingSize is not null)
            throw new NotSupportedException($"Model {manifest.Name} has a backbone; the holdout gate evaluates head-only models (features → head).");
        if (samples.Count == 0) throw new ArgumentException("The holdout set is empty.", nameof(samples));
        var features = new ContinualLearning.Features.FeaturePipeline(manifest.InputSchema);
        using var head = new ManagedEngine().Create(manifest.Head, manifest.Training.Options, weights);
        const int batch = 256;
        var inputs = manifest.Head.InputSize;
        var outputs = manifest.Head.OutputSize;
        var x = new float[batch * inputs];
        var y = new float[batch * outputs];
        var correct = 0;
        for (var start = 0; start < samples.Count; start += batch)
        {
            var n = Math.Min(batch, samples.Count - start);
            for (var i = 0; i < n; i++)
                features.Normalize(samples[start + i].Features, x.AsSpan(i * inputs, inputs));
            head.Predict(x.AsSpan(0, n * inputs), n, y.AsSpan(0, n * outputs));
            for (var i = 0; i < n; i++)
            {
                var row = y.AsSpan(i * outputs, outputs);
                var predicted = outputs == 1 ? (row[0] >= 0.5f ? 1 : 0) : System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);
                if (predicted == samples[start + i].Label) correct++;
            }
        }
        return (double)correct / samples.Count;
    }
}
