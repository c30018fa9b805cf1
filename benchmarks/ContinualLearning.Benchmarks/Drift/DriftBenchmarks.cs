using BenchmarkDotNet.Attributes;
using ContinualLearning.Drift;

namespace ContinualLearning.Benchmarks.Drift;

/// <summary>Cost of the drift statistics on a device: per-update cost of the error-stream detectors and one feature check.</summary>
[MemoryDiagnoser]
public class DriftBenchmarks
{
    private double[] _errors = [];
    private double[] _reference = [];
    private double[] _current = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _errors = [.. Enumerable.Range(0, 10_000).Select(_ => rng.NextDouble() < 0.2 ? 1.0 : 0.0)];
        _reference = [.. Enumerable.Range(0, 1000).Select(_ => rng.NextDouble())];
        _current = [.. Enumerable.Range(0, 500).Select(_ => rng.NextDouble())];
    }

    [Benchmark(OperationsPerInvoke = 10_000)]
    public bool Adwin() => Feed(new Adwin());

    [Benchmark(OperationsPerInvoke = 10_000)]
    public bool PageHinkley() => Feed(new PageHinkley());

    [Benchmark(OperationsPerInvoke = 10_000)]
    public bool Ddm() => Feed(new Ddm());

    [Benchmark]
    public double Psi_1000_vs_500() => Psi.Compute(_reference, _current);

    [Benchmark]
    public KsResult Ks_1000_vs_500() => KolmogorovSmirnov.Test(_reference, _current);

    private bool Feed(IDriftDetector d)
    {
        var any = false;
        foreach (var e in _errors)
        {
            d.Update(e);
            any |= d.DriftDetected;
        }
        return any;
    }
}
