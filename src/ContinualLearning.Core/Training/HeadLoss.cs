using ContinualLearning.Replay;

namespace ContinualLearning.Training;

/// <summary>
/// The mean training loss of a head on labelled samples, as the head's own loss defines it (nats): softmax
/// cross-entropy −ln p(label), binary cross-entropy averaged over the outputs, or the mean squared error. Concept-aware
/// aggregation compares these across cluster heads (<see cref="Deltas.ClusterReport"/>), so every head is scored by the
/// same rule on the same samples.
/// </summary>
public static class HeadLoss
{
    /// <summary>Probabilities are clamped here before the logarithm, so a confident mistake costs ≈ 16 nats, not infinity.</summary>
    public const double MinProbability = 1e-7;

    /// <summary>Rows per <see cref="IHeadModel.Predict"/> call (small buffers: no large-object-heap allocations).</summary>
    private const int Block = 32;

    /// <summary>
    /// Mean loss of <paramref name="model"/> over <paramref name="samples"/>. <paramref name="classMap"/> maps a sample's
    /// class index to the head's output row (null = the same index); a class the head lacks (−1) is refused.
    /// </summary>
    /// <exception cref="ArgumentException">No samples, a sample of the wrong width, or a class the head has no row for.</exception>
    public static double Mean(IHeadModel model, IReadOnlyList<TrainingSample> samples, IReadOnlyList<int>? classMap = null)
    {
        var losses = PerSample(model, samples, classMap);
        double sum = 0;
        foreach (var loss in losses) sum += loss;
        return sum / losses.Length;
    }

    /// <summary>
    /// The loss of <paramref name="model"/> on each of <paramref name="samples"/>, in order (their mean is
    /// <see cref="Mean"/>): two heads scored on the same samples give paired losses, whose difference has a standard error
    /// (<see cref="PairedLoss.StandardError"/>). One double per sample: bounded by the run's sample count.
    /// </summary>
    /// <exception cref="ArgumentException">No samples, a sample of the wrong width, or a class the head has no row for.</exception>
    public static double[] PerSample(IHeadModel model, IReadOnlyList<TrainingSample> samples, IReadOnlyList<int>? classMap = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0) throw new ArgumentException("Cannot measure a loss on no samples.", nameof(samples));
        var spec = model.Spec;
        var rows = Math.Min(samples.Count, Block);
        var x = new float[rows * spec.InputSize];
        var output = new float[rows * spec.OutputSize];
        var target = new float[spec.TargetWidth];
        var losses = new double[samples.Count];
        for (var start = 0; start < samples.Count; start += rows)
        {
            var count = Math.Min(rows, samples.Count - start);
            for (var i = 0; i < count; i++)
            {
                var features = samples[start + i].Features;
                if (features.Length != spec.InputSize)
                    throw new ArgumentException($"Sample {samples[start + i].Id} has {features.Length} features; head {spec} takes {spec.InputSize}.", nameof(samples));
                features.CopyTo(x, i * spec.InputSize);
            }
            model.Predict(x.AsSpan(0, count * spec.InputSize), count, output.AsSpan(0, count * spec.OutputSize));
            for (var i = 0; i < count; i++)
            {
                var label = Mapped(samples[start + i], classMap);
                TargetEncoder.Write(spec, label, target);
                losses[start + i] = RowLoss(spec, output.AsSpan(i * spec.OutputSize, spec.OutputSize), target);
            }
        }
        return losses;
    }

    /// <summary>The loss of one output row against its encoded target (<see cref="TargetEncoder"/>).</summary>
    public static double RowLoss(HeadSpec spec, ReadOnlySpan<float> output, ReadOnlySpan<float> target)
    {
        ArgumentNullException.ThrowIfNull(spec);
        switch (spec.Loss)
        {
            case LossKind.SoftmaxCrossEntropy:
                return -Math.Log(Math.Max(output[(int)target[0]], MinProbability));
            case LossKind.BinaryCrossEntropy:
                double bce = 0;
                for (var j = 0; j < output.Length; j++)
                {
                    var p = Math.Clamp(output[j], MinProbability, 1 - MinProbability);
                    bce -= target[j] * Math.Log(p) + (1 - target[j]) * Math.Log(1 - p);
                }
                return bce / output.Length;
            default:
                double se = 0;
                for (var j = 0; j < output.Length; j++)
                {
                    var d = output[j] - target[j];
                    se += d * d;
                }
                return se / output.Length;
        }
    }

    private static SampleLabel Mapped(TrainingSample sample, IReadOnlyList<int>? classMap)
    {
        var label = sample.Label;
        if (classMap is null || label.Kind != SampleLabelKind.Class) return label;
        var c = label.ClassIndex;
        var mapped = (uint)c < (uint)classMap.Count ? classMap[c] : -1;
        if (mapped < 0) throw new ArgumentException($"Sample {sample.Id} has class {c}, which the head has no output for.", nameof(sample));
        return SampleLabel.Class(mapped);
    }
}
