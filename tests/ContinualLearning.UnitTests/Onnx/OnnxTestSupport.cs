using ContinualLearning.Tensors;
using ContinualLearning.Training;
using Microsoft.ML.OnnxRuntime;

namespace ContinualLearning.UnitTests.Onnx;

/// <summary>Helpers shared by the ONNX tests: a double-precision reference forward pass, ORT runs of model bytes, temp files.</summary>
internal static class OnnxTestSupport
{
    /// <summary>
    /// Textbook forward pass in double: z = W·a + b per Linear, ReLU between, then softmax / sigmoid / identity.
    /// Written independently of the exporter and the engines so it can disagree with both.
    /// </summary>
    public static double[] ReferencePredict(HeadSpec spec, IReadOnlyList<NamedTensor> weights, ReadOnlySpan<float> x, int batch)
    {
        var byName = weights.ToDictionary(w => w.Name);
        var result = new double[batch * spec.OutputSize];
        for (var s = 0; s < batch; s++)
        {
            var a = new double[spec.InputSize];
            for (var i = 0; i < a.Length; i++) a[i] = x[s * spec.InputSize + i];
            for (var l = 0; l < spec.LinearCount; l++)
            {
                var w = byName[HeadSpec.WeightName(l)];
                var b = byName[HeadSpec.BiasName(l)];
                int n = spec.LayerSizes[l], m = spec.LayerSizes[l + 1];
                var z = new double[m];
                for (var o = 0; o < m; o++)
                {
                    double sum = b.Data[o];
                    for (var i = 0; i < n; i++) sum += (double)w.Data[o * n + i] * a[i];
                    z[o] = l < spec.LinearCount - 1 && spec.HiddenActivation == Activation.Relu ? Math.Max(0, sum) : sum;
                }
                a = z;
            }
            switch (spec.Loss)
            {
                case LossKind.SoftmaxCrossEntropy:
                    var max = a.Max();
                    var denominator = a.Sum(v => Math.Exp(v - max));
                    for (var o = 0; o < a.Length; o++) a[o] = Math.Exp(a[o] - max) / denominator;
                    break;
                case LossKind.BinaryCrossEntropy:
                    for (var o = 0; o < a.Length; o++) a[o] = 1 / (1 + Math.Exp(-a[o]));
                    break;
            }
            a.CopyTo(result, s * spec.OutputSize);
        }
        return result;
    }

    /// <summary>Runs a one-input, one-output float model held in memory with ONNX Runtime.</summary>
    public static float[] RunOrt(byte[] model, float[] x, long[] shape, string inputName = "input", string? outputName = null)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        using var input = OrtValue.CreateTensorValueFromMemory(x, shape);
        var output = outputName ?? session.OutputNames.Single();
        using var results = session.Run(runOptions, [inputName], [input], [output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public static float[] RandomInputs(int count, int seed, float scale = 2f)
    {
        var random = new Random(seed);
        var x = new float[count];
        for (var i = 0; i < x.Length; i++) x[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        return x;
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (|Δ| = {Math.Abs(expected[i] - actual[i]):E2} > {tolerance:E0}).");
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        var e = new double[expected.Length];
        for (var i = 0; i < e.Length; i++) e[i] = expected[i];
        AssertClose(e, actual, tolerance, what);
    }
}

/// <summary>A temporary directory removed at dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cl-onnx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
