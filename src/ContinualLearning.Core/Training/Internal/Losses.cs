using System.Numerics.Tensors;

namespace ContinualLearning.Training.Internal;

/// <summary>
/// Loss values and their gradients with respect to the logits, defined exactly as PyTorch's
/// <c>CrossEntropyLoss</c>, <c>BCEWithLogitsLoss</c> and <c>MSELoss</c> with the default mean reduction.
/// Pure functions over row-major batch × outputs spans.
/// </summary>
internal static class Losses
{
    /// <summary>
    /// Writes dLoss/dLogits into <paramref name="gradient"/> and returns the loss.
    /// <paramref name="logits"/> and <paramref name="gradient"/> are batch × outputs;
    /// <paramref name="targets"/> is batch × targetWidth (class indices as floats for softmax CE).
    /// </summary>
    public static float LossAndGradient(
        LossKind kind, ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int batch, int outputs, Span<float> gradient) =>
        kind switch
        {
            LossKind.SoftmaxCrossEntropy => SoftmaxCrossEntropy(logits, targets, batch, outputs, gradient),
            LossKind.BinaryCrossEntropy => BinaryCrossEntropy(logits, targets, batch * outputs, gradient),
            LossKind.MeanSquaredError => MeanSquaredError(logits, targets, batch * outputs, gradient),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown loss kind."),
        };

    /// <summary>Mean over the batch of −log softmax(z)[target], with a max-shifted (overflow-free) log-sum-exp.</summary>
    public static float SoftmaxCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int batch, int outputs, Span<float> gradient)
    {
        var scale = 1f / batch;
        double total = 0;
        for (var i = 0; i < batch; i++)
        {
            var target = ClassIndex(targets[i], i, outputs);
            var z = logits.Slice(i * outputs, outputs);
            var g = gradient.Slice(i * outputs, outputs);
            var max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, g);
            TensorPrimitives.Exp(g, g);
            var sum = TensorPrimitives.Sum(g);
            total += max + Math.Log(sum) - z[target];
            // d/dz of mean CE = (softmax − onehot) / batch.
            TensorPrimitives.Multiply(g, scale / sum, g);
            g[target] -= scale;
        }
        return (float)(total / batch);
    }

    /// <summary>
    /// Mean over all elements of <c>max(z,0) − z·y + log(1 + e^−|z|)</c> (BCEWithLogitsLoss: stable for any z);
    /// the gradient is (σ(z) − y) / count.
    /// </summary>
    public static float BinaryCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int count, Span<float> gradient)
    {
        double total = 0;
        for (var i = 0; i < count; i++)
        {
            var z = logits[i];
            total += Math.Max(z, 0f) - (double)z * targets[i] + Math.Log(1 + Math.Exp(-Math.Abs((double)z)));
        }
        var g = gradient[..count];
        TensorPrimitives.Sigmoid(logits[..count], g);
        TensorPrimitives.Subtract(g, targets[..count], g);
        TensorPrimitives.Multiply(g, 1f / count, g);
        return (float)(total / count);
    }

    /// <summary>Mean over all elements of (z − y)²; the gradient is 2(z − y) / count.</summary>
    public static float MeanSquaredError(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, int count, Span<float> gradient)
    {
        var g = gradient[..count];
        TensorPrimitives.Subtract(predictions[..count], targets[..count], g);
        double total = 0;
        foreach (var d in g) total += (double)d * d;
        TensorPrimitives.Multiply(g, 2f / count, g);
        return (float)(total / count);
    }

    /// <summary>Turns the output pre-activations into predictions in place: softmax rows, sigmoid, or identity.</summary>
    public static void OutputTransform(LossKind kind, Span<float> values, int batch, int outputs)
    {
        switch (kind)
        {
            case LossKind.SoftmaxCrossEntropy:
                for (var i = 0; i < batch; i++)
                {
                    // Shift by the row max first: TensorPrimitives.SoftMax does not, and e^z overflows past z ≈ 88.
                    var row = values.Slice(i * outputs, outputs);
                    TensorPrimitives.Subtract(row, TensorPrimitives.Max(row), row);
                    TensorPrimitives.Exp(row, row);
                    TensorPrimitives.Divide(row, TensorPrimitives.Sum(row), row);
                }
                break;
            case LossKind.BinaryCrossEntropy:
                TensorPrimitives.Sigmoid(values[..(batch * outputs)], values[..(batch * outputs)]);
                break;
            case LossKind.MeanSquaredError:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown loss kind.");
        }
    }

    private static int ClassIndex(float value, int row, int outputs)
    {
        // Class indices travel as floats (one buffer type for all losses); anything but an exact in-range integer is a caller bug.
        if (!(value >= 0 && value < outputs) || value != MathF.Floor(value))
            throw new ArgumentException(
                $"Target of sample {row} is {value}; softmax cross-entropy needs a class index 0..{outputs - 1} stored as a whole number.",
                "targets");
        return (int)value;
    }
}
