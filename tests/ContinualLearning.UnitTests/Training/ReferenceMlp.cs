using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>
/// A deliberately naive double-precision MLP written from the textbook formulas (not the engine's),
/// used as the oracle for gradient checks: loss(θ) in double and central finite differences of it.
/// Parameters are one flat double array in state_dict order (W0 [out,in], b0, W1, b1, ...).
/// </summary>
internal static class ReferenceMlp
{
    public static double[][] Forward(HeadSpec spec, double[] p, float[] x, int batch)
    {
        var outputs = new double[batch][];
        for (var s = 0; s < batch; s++)
        {
            var a = new double[spec.InputSize];
            for (var i = 0; i < a.Length; i++) a[i] = x[s * spec.InputSize + i];
            var offset = 0;
            for (var l = 0; l < spec.LinearCount; l++)
            {
                int n = spec.LayerSizes[l], m = spec.LayerSizes[l + 1];
                var z = new double[m];
                for (var o = 0; o < m; o++)
                {
                    var sum = p[offset + n * m + o];
                    for (var i = 0; i < n; i++) sum += p[offset + o * n + i] * a[i];
                    z[o] = sum;
                }
                offset += n * m + m;
                if (l < spec.LinearCount - 1 && spec.HiddenActivation == Activation.Relu)
                    for (var o = 0; o < m; o++) z[o] = Math.Max(0, z[o]);
                a = z;
            }
            outputs[s] = a;
        }
        return outputs;
    }

    /// <summary>Mean loss over the batch (and over outputs for BCE / MSE), as torch's default reduction.</summary>
    public static double Loss(HeadSpec spec, double[] p, float[] x, float[] t, int batch)
    {
        var z = Forward(spec, p, x, batch);
        var outputs = spec.OutputSize;
        double total = 0;
        for (var s = 0; s < batch; s++)
        {
            switch (spec.Loss)
            {
                case LossKind.SoftmaxCrossEntropy:
                {
                    // −log(e^{z_t} / Σ e^{z_j}) computed naively (logits are small in tests).
                    var denominator = z[s].Sum(Math.Exp);
                    total += -Math.Log(Math.Exp(z[s][(int)t[s]]) / denominator);
                    break;
                }
                case LossKind.BinaryCrossEntropy:
                    for (var o = 0; o < outputs; o++)
                    {
                        var q = 1 / (1 + Math.Exp(-z[s][o]));
                        double y = t[s * outputs + o];
                        total += -(y * Math.Log(q) + (1 - y) * Math.Log(1 - q));
                    }
                    break;
                case LossKind.MeanSquaredError:
                    for (var o = 0; o < outputs; o++)
                    {
                        var d = z[s][o] - t[s * outputs + o];
                        total += d * d;
                    }
                    break;
            }
        }
        return spec.Loss == LossKind.SoftmaxCrossEntropy ? total / batch : total / (batch * outputs);
    }

    /// <summary>Central differences of <paramref name="loss"/> around <paramref name="p"/>.</summary>
    public static double[] NumericGradient(Func<double[], double> loss, double[] p, double h = 1e-6)
    {
        var gradient = new double[p.Length];
        for (var i = 0; i < p.Length; i++)
        {
            var keep = p[i];
            p[i] = keep + h;
            var up = loss(p);
            p[i] = keep - h;
            var down = loss(p);
            p[i] = keep;
            gradient[i] = (up - down) / (2 * h);
        }
        return gradient;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (var i = 0; i < values.Length; i++) result[i] = values[i];
        return result;
    }
}
