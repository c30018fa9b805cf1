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
    /// <remarks>
    /// Three passes (shift rows by their max, one exponential over the whole batch, normalise rows) rather than a
    /// chain of span calls per row: with 2 or 10 classes the per-call overhead of five calls per row was most of
    /// the loss's cost.
    /// </remarks>
    public static float SoftmaxCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, int batch, int outputs, Span<float> gradient)
    {
        var scale = 1f / batch;
        var count = batch * outputs;
        for (var i = 0; i < batch; i++)
        {
            var z = logits.Slice(i * outputs, outputs);
            SubtractRowMax(z, gradient.Slice(i * outputs, outputs));
        }
        TensorPrimitives.Exp(gradient[..count], gradient[..count]);
        double total = 0;
        for (var i = 0; i < batch; i++)
        {
            var target = ClassIndex(targets[i], i, outputs, nameof(targets));
            var z = logits.Slice(i * outputs, outputs);
            var g = gradient.Slice(i * outputs, outputs);
            var sum = RowSum(g);
            // log-sum-exp = max + log Σ e^(z−max).
            total += RowMax(z) + Math.Log(sum) - z[target];
            // d/dz of mean CE = (softmax − onehot) / batch.
            ScaleRow(g, scale / sum);
            g[target] -= scale;
        }
        return (float)(total / batch);
    }

    /// <summary>Rows at most this wide go through scalar loops: a vectorised call costs more than it saves.</summary>
    private const int NarrowRow = 16;

    private static float RowMax(ReadOnlySpan<float> row)
    {
        if (row.Length > NarrowRow) return TensorPrimitives.Max(row);
        var max = row[0];
        for (var j = 1; j < row.Length; j++) max = MathF.Max(max, row[j]);
        return max;
    }

    private static float RowSum(ReadOnlySpan<float> row)
    {
        if (row.Length > NarrowRow) return TensorPrimitives.Sum(row);
        var sum = 0f;
        foreach (var value in row) sum += value;
        return sum;
    }

    /// <summary>destination = row − max(row).</summary>
    private static void SubtractRowMax(ReadOnlySpan<float> row, Span<float> destination)
    {
        var max = RowMax(row);
        if (row.Length > NarrowRow)
        {
            TensorPrimitives.Subtract(row, max, destination);
            return;
        }
        for (var j = 0; j < row.Length; j++) destination[j] = row[j] - max;
    }

    private static void ScaleRow(Span<float> row, float factor)
    {
        if (row.Length > NarrowRow)
        {
            TensorPrimitives.Multiply(row, factor, row);
            return;
        }
        for (var j = 0; j < row.Length; j++) row[j] *= factor;
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
                // Shift by the row max first: TensorPrimitives.SoftMax does not, and e^z overflows past z ≈ 88.
                for (var i = 0; i < batch; i++)
                {
                    var row = values.Slice(i * outputs, outputs);
                    SubtractRowMax(row, row);
                }
                TensorPrimitives.Exp(values[..(batch * outputs)], values[..(batch * outputs)]);
                for (var i = 0; i < batch; i++)
                {
                    var row = values.Slice(i * outputs, outputs);
                    ScaleRow(row, 1f / RowSum(row));
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

    private static int ClassIndex(float value, int row, int outputs, string paramName)
    {
        // Class indices travel as floats (one buffer type for all losses); anything but an exact in-range integer is a caller bug.
        if (!(value >= 0 && value < outputs) || value != MathF.Floor(value))
            throw new ArgumentException(
                $"Target of sample {row} is {value}; softmax cross-entropy needs a class index 0..{outputs - 1} stored as a whole number.",
                paramName);
        return (int)value;
    }
}
