using BenchmarkDotNet.Attributes;
using ContinualLearning.Torch;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Torch;

/// <summary>
/// One TrainStep / Predict of a typical head on the torch engine, with 1 vs default intra-op threads
/// (see <see cref="TorchEngine(int?)"/> for why 1 is the default).
/// </summary>
[MemoryDiagnoser]
public class TorchTrainStepBenchmarks
{
    private const int Batch = 32;
    private IHeadModel _model = null!;
    private float[] _x = [];
    private float[] _y = [];
    private float[] _predictions = [];

    /// <summary>libtorch intra-op threads; 0 = libtorch's default (one per core).</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    [Params(64, 256)]
    public int Hidden { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var spec = new HeadSpec([64, Hidden, 4], LossKind.SoftmaxCrossEntropy);
        var random = new Random(1);
        _x = Enumerable.Range(0, Batch * 64).Select(_ => (float)random.NextDouble()).ToArray();
        _y = Enumerable.Range(0, Batch).Select(i => (float)(i % 4)).ToArray();
        _predictions = new float[Batch * 4];
        _model = new TorchEngine(Threads == 0 ? Environment.ProcessorCount : 1).Create(spec, new TrainingOptions(), seed: 1);
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark]
    public float TrainStep() => _model.TrainStep(_x, _y, Batch);

    [Benchmark]
    public void Predict() => _model.Predict(_x, Batch, _predictions);
}
