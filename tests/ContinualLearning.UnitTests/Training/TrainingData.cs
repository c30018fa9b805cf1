using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>Seeded random inputs and targets of the right kind for each loss.</summary>
internal static class TrainingData
{
    public static float[] Inputs(Random random, int batch, int inputs, float scale = 1f)
    {
        var x = new float[batch * inputs];
        for (var i = 0; i < x.Length; i++) x[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        return x;
    }

    public static float[] Targets(Random random, HeadSpec spec, int batch)
    {
        var t = new float[batch * spec.TargetWidth];
        for (var i = 0; i < t.Length; i++)
        {
            t[i] = spec.Loss switch
            {
                LossKind.SoftmaxCrossEntropy => random.Next(spec.OutputSize),
                LossKind.BinaryCrossEntropy => random.Next(2),
                _ => (float)(random.NextDouble() * 2 - 1),
            };
        }
        return t;
    }

    /// <summary>
    /// A linearly separable problem: the label is decided by the sign of a fixed projection of x (class index,
    /// 0/1 for BCE, or ±1 regression target), so every loss can drive its error far down.
    /// </summary>
    public static (float[] X, float[] T) Separable(Random random, HeadSpec spec, int count)
    {
        var x = Inputs(random, count, spec.InputSize);
        var t = new float[count * spec.TargetWidth];
        for (var s = 0; s < count; s++)
        {
            double projection = 0;
            for (var i = 0; i < spec.InputSize; i++) projection += x[s * spec.InputSize + i] * (i % 2 == 0 ? 1.0 : -0.5);
            var positive = projection > 0;
            for (var o = 0; o < spec.TargetWidth; o++)
            {
                t[s * spec.TargetWidth + o] = spec.Loss switch
                {
                    LossKind.SoftmaxCrossEntropy => positive ? 1 : 0,
                    LossKind.BinaryCrossEntropy => positive ? 1 : 0,
                    _ => positive ? 1 : -1,
                };
            }
        }
        return (x, t);
    }
}
