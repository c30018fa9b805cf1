using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using ContinualLearning.Training.Internal;

namespace ContinualLearning.Benchmarks.Training;

/// <summary>
/// Before/after of the managed engine's Adam step in one run: the fused single pass it uses now against the
/// element-wise form it replaced (one TensorPrimitives pass per torch operation, ten passes over four arrays).
/// Sizes are the parameter counts of the 128→256→10 and 512→512→512→10 heads.
/// <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*AdamStepBenchmarks*' --job short --inProcess</c>
/// </summary>
[MemoryDiagnoser]
public class AdamStepBenchmarks
{
    private float[] _p = [];
    private float[] _g = [];
    private float[] _m = [];
    private float[] _v = [];
    private float[] _scratch = [];

    [Params(35_594, 530_442)]
    public int Parameters { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        float[] Make(float scale) => Enumerable.Range(0, Parameters).Select(_ => (float)random.NextDouble() * scale).ToArray();
        _p = Make(1f);
        _g = Make(0.1f);
        _m = Make(0.01f);
        _v = Make(0.001f);
        _scratch = new float[Parameters];
    }

    [Benchmark(Baseline = true)]
    public void Elementwise()
    {
        const float beta1 = 0.9f, beta2 = 0.999f;
        TensorPrimitives.Multiply(_m, beta1, _m);
        TensorPrimitives.MultiplyAdd(_g, 1f - beta1, _m, _m);
        TensorPrimitives.Multiply(_g, _g, _scratch);
        TensorPrimitives.Multiply(_v, beta2, _v);
        TensorPrimitives.MultiplyAdd(_scratch, 1f - beta2, _v, _v);
        TensorPrimitives.Sqrt(_v, _scratch);
        TensorPrimitives.Divide(_scratch, 0.5f, _scratch);
        TensorPrimitives.Add(_scratch, 1e-8f, _scratch);
        TensorPrimitives.Divide(_m, _scratch, _scratch);
        TensorPrimitives.MultiplyAdd(_scratch, -1e-3f, _p, _p);
    }

    [Benchmark]
    public void Fused() => Optimizers.AdamStep(_p, _g, _m, _v, step: 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f);
}
