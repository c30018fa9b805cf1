using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Torch;

/// <summary>
/// Seeded synthetic problems a small MLP solves well: labels from a fixed hyperplane (classification)
/// or targets from a fixed linear map (regression), inputs in [-1, 1]^4.
/// </summary>
internal sealed class Synthetic
{
    private Synthetic(HeadSpec spec, float[] x, float[] y, int count)
    {
        Spec = spec;
        X = x;
        Y = y;
        Count = count;
    }

    public HeadSpec Spec { get; }
    public float[] X { get; }
    public float[] Y { get; }
    public int Count { get; }

    public static Synthetic Make(LossKind loss, int samples, int seed)
    {
        const int inputs = 4;
        var spec = loss switch
        {
            LossKind.SoftmaxCrossEntropy => new HeadSpec([inputs, 16, 2], loss),
            LossKind.BinaryCrossEntropy => new HeadSpec([inputs, 16, 1], loss),
            _ => new HeadSpec([inputs, 16, 2], loss),
        };
        var random = new Random(seed);
        var x = new float[samples * inputs];
        for (var i = 0; i < x.Length; i++) x[i] = (float)(2 * random.NextDouble() - 1);
        var y = new float[samples * spec.TargetWidth];
        for (var s = 0; s < samples; s++)
        {
            var row = x.AsSpan(s * inputs, inputs);
            var score = 1.5f * row[0] - row[1] + 0.5f * row[2] - 0.25f * row[3];
            switch (loss)
            {
                case LossKind.SoftmaxCrossEntropy:
                case LossKind.BinaryCrossEntropy:
                    y[s] = score > 0 ? 1f : 0f;
                    break;
                default:
                    y[2 * s] = score;
                    y[2 * s + 1] = row[0] * 0.5f + row[3];
                    break;
            }
        }
        return new Synthetic(spec, x, y, samples);
    }

    /// <summary>Accuracy for classifiers; R² for regression (both 1 at best).</summary>
    public double Quality(float[] predictions)
    {
        switch (Spec.Loss)
        {
            case LossKind.SoftmaxCrossEntropy:
                return Enumerable.Range(0, Count).Count(s => (predictions[2 * s + 1] > predictions[2 * s] ? 1f : 0f) == Y[s]) / (double)Count;
            case LossKind.BinaryCrossEntropy:
                return Enumerable.Range(0, Count).Count(s => (predictions[s] > 0.5f ? 1f : 0f) == Y[s]) / (double)Count;
            default:
                var mean = Y.Average();
                var total = Y.Sum(v => (double)(v - mean) * (v - mean));
                var residual = Y.Zip(predictions, (t, p) => (double)(t - p) * (t - p)).Sum();
                return 1 - residual / total;
        }
    }
}
