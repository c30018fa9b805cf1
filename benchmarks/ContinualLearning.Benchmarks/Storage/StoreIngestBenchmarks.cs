using BenchmarkDotNet.Attributes;
using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.Benchmarks.Storage;

/// <summary>
/// Ingest rate of the transient sample store on /dev/shm. Each invocation stores <see cref="SamplesPerInvoke"/>
/// labelled samples, so the reported time is per sample: samples/s = 1e9 / Mean(ns). Goal: ≥ 50,000 samples/s.
/// The store is capped at 20,000 rows, so after the first invocations every insert also evicts the oldest row
/// (the steady state of a full store on a device).
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*Store*Benchmarks*' --job short --inProcess</c>.
/// </summary>
[MemoryDiagnoser]
public class StoreIngestBenchmarks
{
    private const int SamplesPerInvoke = 2_560;

    private string _dir = "";
    private SampleStore _store = null!;
    private (float[] Features, SampleLabel Label)[] _samples = [];
    private (float[] Features, SampleLabel Label)[][] _batches = [];

    [Params(8, 128)]
    public int Features { get; set; }

    [Params(1, 256)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_dir, _store) = BenchStore.Open(Features);
        var rng = new Random(1);
        _samples = Enumerable.Range(0, SamplesPerInvoke)
            .Select(i => (Enumerable.Range(0, Features).Select(_ => (float)rng.NextDouble()).ToArray(), SampleLabel.Class(i % 10)))
            .ToArray();
        _batches = _samples.Chunk(Batch).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Batch 1: one <see cref="SampleStore.AddLabelled"/> (one autocommit transaction) per sample; batch 256: <see cref="SampleStore.AddLabelledBatch"/>.</summary>
    [Benchmark(OperationsPerInvoke = SamplesPerInvoke)]
    public long AddLabelled()
    {
        long last = 0;
        if (Batch == 1)
        {
            foreach (var (features, label) in _samples) last = _store.AddLabelled(features, label);
        }
        else
        {
            foreach (var batch in _batches) last = _store.AddLabelledBatch(batch).Ids[^1];
        }
        return last;
    }
}

/// <summary>Serving path: <see cref="SampleStore.LogPrediction"/> per request (its own transaction each), store full and evicting.</summary>
[MemoryDiagnoser]
public class StoreLogPredictionBenchmarks
{
    private const int SamplesPerInvoke = 2_560;
    private string _dir = "";
    private SampleStore _store = null!;
    private float[][] _features = [];

    [Params(8, 128)]
    public int Features { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_dir, _store) = BenchStore.Open(Features);
        var rng = new Random(1);
        _features = Enumerable.Range(0, SamplesPerInvoke).Select(_ => Enumerable.Range(0, Features).Select(_ => (float)rng.NextDouble()).ToArray()).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = SamplesPerInvoke)]
    public long LogPrediction()
    {
        long last = 0;
        ReadOnlySpan<float> prediction = [0.1f, 0.9f];
        foreach (var features in _features) last = _store.LogPrediction(features, prediction, "v1");
        return last;
    }
}

/// <summary>A fresh store on tmpfs for one benchmark class (both ingest benchmarks use the same bounds).</summary>
internal static class BenchStore
{
    public static (string Dir, SampleStore Store) Open(int features)
    {
        var dir = Path.Combine("/dev/shm", $"cl-bench-{Guid.NewGuid():N}");
        return (dir, new SampleStore(new SampleStoreOptions
        {
            DatabasePath = Path.Combine(dir, "samples.db"),
            DeleteOnDispose = true,
            FeatureCount = features,
            LabelCount = 10,
            MaxRows = 20_000,
            MaxBytes = 256L * 1024 * 1024,
        }));
    }
}
