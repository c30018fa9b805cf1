using ContinualLearning.Training;

namespace ContinualLearning.Replay;

/// <summary>
/// Writes a label as the target row <see cref="IHeadModel.TrainStep"/> expects for a head
/// (<see cref="HeadSpec.TargetWidth"/> floats):
/// <list type="bullet">
/// <item>softmax cross-entropy: the class index as a float;</item>
/// <item>binary cross-entropy / MSE with one output: the class index (0 or 1) as a float;</item>
/// <item>binary cross-entropy / MSE with several outputs: a class label becomes one-hot;</item>
/// <item>a values label is copied and must have exactly TargetWidth values.</item>
/// </list>
/// </summary>
public static class TargetEncoder
{
    /// <summary>Writes <paramref name="label"/> into <paramref name="target"/> (<see cref="HeadSpec.TargetWidth"/> floats) as described above.</summary>
    public static void Write(HeadSpec spec, in SampleLabel label, Span<float> target)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var width = spec.TargetWidth;
        if (target.Length != width)
            throw new ArgumentException($"Target row has {target.Length} floats; head {spec} needs {width}.", nameof(target));
        switch (label.Kind)
        {
            case SampleLabelKind.Class:
                var c = label.ClassIndex;
                if (spec.Loss == LossKind.SoftmaxCrossEntropy)
                {
                    if ((uint)c >= (uint)spec.OutputSize)
                        throw new ArgumentException($"Class {c} is outside the head's {spec.OutputSize} outputs ({spec}).", nameof(label));
                    target[0] = c;
                }
                else if (width == 1)
                {
                    if (c is not (0 or 1))
                        throw new ArgumentException($"Class {c} cannot be a target for a single-output {spec.Loss} head; only 0 or 1 can.", nameof(label));
                    target[0] = c;
                }
                else
                {
                    if ((uint)c >= (uint)width)
                        throw new ArgumentException($"Class {c} is outside the head's {width} outputs ({spec}).", nameof(label));
                    target.Clear();
                    target[c] = 1f;
                }
                break;
            case SampleLabelKind.Values:
                if (spec.Loss == LossKind.SoftmaxCrossEntropy)
                    throw new ArgumentException($"A values label ({label}) cannot train a softmax cross-entropy head ({spec}); it needs class labels.", nameof(label));
                if (label.Values.Length != width)
                    throw new ArgumentException($"Label has {label.Values.Length} values; head {spec} needs {width}.", nameof(label));
                label.Values.CopyTo(target);
                break;
            default:
                throw new ArgumentException("An unlabelled sample cannot be a training target.", nameof(label));
        }
    }
}
