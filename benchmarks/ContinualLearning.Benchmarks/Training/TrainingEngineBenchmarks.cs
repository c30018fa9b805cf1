using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using ContinualLearning.Onnx;
using ContinualLearning.Torch;
using ContinualLearning.Training;
using Microsoft.ML.OnnxRuntime;

namespace ContinualLearning.Benchmarks.Training;

/// <summary>
/// Managed engine vs TorchSharp on the same heads, same data, same starting weights (SoftmaxCrossEntropy + Adam):
/// one <see cref="IHeadModel.TrainStep"/> and one <see cref="IHeadModel.Predict"/> per operation, plus the exported
/// head run by ONNX Runtime. Torch is the baseline of each category, so the Ratio column reads "managed time / torch
/// time" (below 1 = managed faster) and the samples/s column is batch / mean time.
/// </summary>
/// <remarks>
/// Threads are compared like for like: <c>CL_GEMM_THREADS</c> (read once by the managed GEMM; unset = one per core) is also
/// given to libtorch (<see cref="TorchEngine(int?)"/>) and to ONNX Runtime's intra-op pool. Those settings are
/// process-wide, so each thread count is its own run:
/// <c>CL_GEMM_THREADS=1 dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*TrainingEngineBenchmarks*'</c>.
/// </remarks>
[Config(typeof(EngineConfig))]
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams, BenchmarkLogicalGroupRule.ByJob)]
[CategoriesColumn]
public class TrainingEngineBenchmarks
{
    private const string ThreadsVariable = "CL_GEMM_THREADS";

    private IHeadModel _managed = null!;
    private IHeadModel _torch = null!;
    private InferenceSession _onnx = null!;
    private OrtValue _onnxInput = null!;
    private OrtValue _onnxOutput = null!;
    private RunOptions _runOptions = null!;
    private string[] _inputNames = [];
    private string[] _outputNames = [];
    private OrtValue[] _inputValues = [];
    private OrtValue[] _outputValues = [];
    private float[] _x = [];
    private float[] _y = [];
    private float[] _predictions = [];

    /// <summary>Head layer sizes, written the way docs name them.</summary>
    public static IEnumerable<string> Heads => ["16-32-2", "128-256-10", "512-512-512-10"];

    [ParamsSource(nameof(Heads))]
    public string Head { get; set; } = "16-32-2";

    [Params(32, 256)]
    public int Batch { get; set; }

    /// <summary>The managed GEMM's own rule (<c>CL_GEMM_THREADS</c>, else one per core), so torch and ONNX Runtime get the same count.</summary>
    private static int Threads() =>
        int.TryParse(Environment.GetEnvironmentVariable(ThreadsVariable), out var t) && t >= 1 ? t : Environment.ProcessorCount;

    [GlobalSetup]
    public void Setup()
    {
        var threads = Threads();
        var spec = new HeadSpec(Head.Split('-').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(), LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 1e-3f };
        var weights = HeadInitializer.Initialize(spec, seed: 1);
        var random = new Random(1);
        _x = Enumerable.Range(0, Batch * spec.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        _y = Enumerable.Range(0, Batch).Select(i => (float)(i % spec.OutputSize)).ToArray();
        _predictions = new float[Batch * spec.OutputSize];

        _managed = new ManagedEngine().Create(spec, options, weights);
        if (!TorchEngine.IsAvailable) throw new InvalidOperationException(TorchEngine.UnavailableReason);
        _torch = new TorchEngine(threads).Create(spec, options, weights);

        using var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _onnx = new InferenceSession(OnnxExporter.ExportHead(spec, weights), sessionOptions);
        // Inputs and outputs bound to our own arrays once, so a run copies nothing and allocates little.
        _onnxInput = OrtValue.CreateTensorValueFromMemory(_x, [Batch, spec.InputSize]);
        _onnxOutput = OrtValue.CreateTensorValueFromMemory(_predictions, [Batch, spec.OutputSize]);
        _runOptions = new RunOptions();
        _inputNames = [OnnxExporter.InputName];
        _outputNames = [OnnxExporter.OutputName];
        _inputValues = [_onnxInput];
        _outputValues = [_onnxOutput];

        // Same weights in, same predictions out: a benchmark of two engines that disagree would mean nothing.
        var reference = new float[_predictions.Length];
        _torch.Predict(_x, Batch, reference);
        _managed.Predict(_x, Batch, _predictions);
        var worst = reference.Zip(_predictions, (a, b) => Math.Abs(a - b)).Max();
        if (worst > 1e-4f) throw new InvalidOperationException($"Managed and torch predictions differ by {worst} on head {Head}; fix parity before timing.");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _managed.Dispose();
        _torch.Dispose();
        _onnxInput.Dispose();
        _onnxOutput.Dispose();
        _runOptions.Dispose();
        _onnx.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("TrainStep")]
    public float TorchTrainStep() => _torch.TrainStep(_x, _y, Batch);

    [Benchmark, BenchmarkCategory("TrainStep")]
    public float ManagedTrainStep() => _managed.TrainStep(_x, _y, Batch);

    [Benchmark(Baseline = true), BenchmarkCategory("Predict")]
    public void TorchPredict() => _torch.Predict(_x, Batch, _predictions);

    [Benchmark, BenchmarkCategory("Predict")]
    public void ManagedPredict() => _managed.Predict(_x, Batch, _predictions);

    /// <summary>The exported head (Gemm/Relu/Softmax) in ONNX Runtime, inputs and outputs pre-bound.</summary>
    [Benchmark, BenchmarkCategory("Predict")]
    public void OnnxRuntimePredict() => _onnx.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);

    /// <summary>
    /// One short in-process job, named after the thread count. In process, because an out-of-process job copies
    /// the whole output (libtorch included, ≈1.4 GB) per job; so the thread count comes from the host's own
    /// <c>CL_GEMM_THREADS</c> and a 2-thread comparison is a second run.
    /// </summary>
    private sealed class EngineConfig : ManualConfig
    {
        public EngineConfig()
        {
            var threads = Threads();
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId($"{threads}-thread"));
            AddColumn(new SamplesPerSecondColumn());
        }
    }

    /// <summary>Batch / mean time: how many samples a second one engine trains on (or predicts).</summary>
    private sealed class SamplesPerSecondColumn : IColumn
    {
        public string Id => "SamplesPerSecond";

        public string ColumnName => "samples/s";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "batch / mean time per operation";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var batch = (int)benchmarkCase.Parameters["Batch"];
            var ns = summary[benchmarkCase]?.ResultStatistics?.Mean;
            return ns is null ? "?" : (batch / (ns.Value / 1e9)).ToString("N0", CultureInfo.InvariantCulture);
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
