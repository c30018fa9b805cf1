using System.Numerics.Tensors;

namespace ContinualLearning.Training.Internal;

/// <summary>
/// torch.optim.SGD and torch.optim.Adam (non-fused, single-tensor path) over flat parameter arrays.
/// The order of float operations follows PyTorch's so the two engines stay within float rounding of each other.
/// </summary>
internal static class Optimizers
{
    /// <summary>
    /// SGD: g = grad + wd·p; with momentum, buf = g on the first step and buf = m·buf + g afterwards
    /// (dampening 0, no Nesterov); p −= lr·buf. <paramref name="gradient"/> is overwritten with g.
    /// <c>step</c> is 1-based, counted since the optimiser state was last reset.
    /// </summary>
    public static void SgdStep(
        Span<float> parameters, Span<float> gradient, Span<float> momentumBuffer, long step,
        float learningRate, float momentum, float weightDecay)
    {
        if (weightDecay != 0f)
            TensorPrimitives.MultiplyAdd(parameters, weightDecay, gradient, gradient);
        ReadOnlySpan<float> direction = gradient;
        if (momentum != 0f)
        {
            if (step == 1)
                gradient.CopyTo(momentumBuffer);
            else
                TensorPrimitives.MultiplyAdd(momentumBuffer, momentum, gradient, momentumBuffer);
            direction = momentumBuffer;
        }
        TensorPrimitives.MultiplyAdd(direction, -learningRate, parameters, parameters);
    }

    /// <summary>
    /// Adam with L2 weight decay added to the gradient, exactly torch's formula:
    /// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; denom = sqrt(v)/sqrt(1−β2^t) + ε; p −= (lr/(1−β1^t))·m/denom.
    /// <paramref name="gradient"/> is overwritten with g; <paramref name="scratch"/> (same length) receives intermediates.
    /// <c>step</c> (t) is 1-based, counted since the optimiser state was last reset.
    /// </summary>
    public static void AdamStep(
        Span<float> parameters, Span<float> gradient, Span<float> firstMoment, Span<float> secondMoment, Span<float> scratch,
        long step, float learningRate, float beta1, float beta2, float epsilon, float weightDecay)
    {
        if (weightDecay != 0f)
            TensorPrimitives.MultiplyAdd(parameters, weightDecay, gradient, gradient);

        TensorPrimitives.Multiply(firstMoment, beta1, firstMoment);
        TensorPrimitives.MultiplyAdd(gradient, 1f - beta1, firstMoment, firstMoment);

        TensorPrimitives.Multiply(gradient, gradient, scratch);
        TensorPrimitives.Multiply(secondMoment, beta2, secondMoment);
        TensorPrimitives.MultiplyAdd(scratch, 1f - beta2, secondMoment, secondMoment);

        // Bias corrections in double, as PyTorch computes them on the host in Python/C++ doubles.
        var biasCorrection1 = 1 - Math.Pow(beta1, step);
        var biasCorrection2 = 1 - Math.Pow(beta2, step);
        var stepSize = (float)(learningRate / biasCorrection1);
        var biasCorrection2Sqrt = (float)Math.Sqrt(biasCorrection2);

        TensorPrimitives.Sqrt(secondMoment, scratch);
        TensorPrimitives.Divide(scratch, biasCorrection2Sqrt, scratch);
        TensorPrimitives.Add(scratch, epsilon, scratch);
        TensorPrimitives.Divide(firstMoment, scratch, scratch);
        TensorPrimitives.MultiplyAdd(scratch, -stepSize, parameters, parameters);
    }
}
