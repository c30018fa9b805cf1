using ContinualLearning.Bundle;
using ContinualLearning.Streams;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Holdout;

/// <summary>
/// Accuracy of head weights on a labelled holdout set, with the managed engine (it runs wherever the aggregator
/// runs, no native dependency). For a model without a pipeline the samples are raw features, normalised with the
/// bundle's own statistics as devices do; for a model with one (<see cref="HoldoutPipeline.HasPipeline"/>) they are
/// head inputs, fed to the head as they are.
/// </summary>
internal static class HoldoutEvaluator
{
    public static double Accuracy(ModelManifest manifest, IReadOnlyList<NamedTensor> weights, IReadOnlyList<Sample> samples)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(samples);
        if (manifest.Task.Kind != TaskKind.Classification)
            throw new NotSupportedException($"The holdout gate measures accuracy; model {manifest.Name} is a {manifest.Task.Kind} model. Remove the Holdout section.");
        if (samples.Count == 0) throw new ArgumentException("The holdout set is empty.", nameof(samples));
        var features = HoldoutPipeline.HasPipeline(manifest) ? null : new ContinualLearning.Features.FeaturePipeline(manifest.InputSchema);
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
            {
                var sample = samples[start + i].Features;
                if (features is not null) features.Normalize(sample, x.AsSpan(i * inputs, inputs));
                else if (sample.Length == inputs) sample.CopyTo(x.AsSpan(i * inputs, inputs));
                else throw new ArgumentException($"Holdout sample {start + i} has {sample.Length} values; the head of model {manifest.Name} {manifest.Version} takes {inputs} inputs.", nameof(samples));
            }
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
