using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using ContinualLearning.Deltas;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Deltas;

/// <summary>
/// Delta codec cost on a device: compress (top-k + quantise) + encode, and decode, for two head sizes.
/// Throughput in MB/s of fp32 input = 4 · params / mean time. The "Bytes" and "vs fp32" columns give the payload
/// size and the compression ratio against sending the full fp32 weights.
/// <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*DeltaCodec*' --job short</c>
/// </summary>
[MemoryDiagnoser]
[Config(typeof(SizeColumns))]
public class DeltaCodecBenchmarks
{
    private IReadOnlyList<NamedTensor> _delta = [];
    private byte[] _payload = [];
    private DeltaCompressionOptions _options = new();

    /// <summary>"small" = 128→256→10 (35,594 params), "large" = 512→512→512→10 (530,442 params).</summary>
    [Params("small", "large")]
    public string Model { get; set; } = "small";

    [Params("topk-1%", "topk-0.1%", "dense-int8", "dense-fp32")]
    public string Mode { get; set; } = "topk-1%";

    [GlobalSetup]
    public void Setup()
    {
        _delta = MakeDelta(Model);
        _options = OptionsFor(Mode);
        _payload = Encode(_delta, _options);
    }

    [Benchmark]
    public byte[] CompressAndEncode() => Encode(_delta, _options);

    [Benchmark]
    public WeightDelta Decode() => DeltaCodec.Decode(_payload);

    internal static DeltaCompressionOptions OptionsFor(string mode) => mode switch
    {
        "topk-1%" => new DeltaCompressionOptions(0.01, DeltaEncoding.Int8),
        "topk-0.1%" => new DeltaCompressionOptions(0.001, DeltaEncoding.Int8),
        "dense-int8" => DeltaCompressionOptions.DenseInt8,
        "dense-fp32" => DeltaCompressionOptions.DenseFloat32,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown mode"),
    };

    internal static IReadOnlyList<NamedTensor> MakeDelta(string model)
    {
        var spec = new HeadSpec(model == "small" ? [128, 256, 10] : [512, 512, 512, 10], LossKind.SoftmaxCrossEntropy);
        var rng = new Random(42);
        // A heavy-tailed delta (a few large coordinates, many small ones), as fine-tuning produces.
        return spec.Parameters().Select(p =>
        {
            var n = p.Shape.Aggregate(1, (a, b) => a * b);
            var data = new float[n];
            for (var i = 0; i < n; i++)
            {
                var u = rng.NextDouble() * 2 - 1;
                data[i] = (float)(1e-3 * u * u * u * Math.Exp(3 * rng.NextDouble()));
            }
            return new NamedTensor(p.Name, p.Shape, data);
        }).ToArray();
    }

    internal static byte[] Encode(IReadOnlyList<NamedTensor> delta, DeltaCompressionOptions options)
    {
        var header = new DeltaHeader("bench", "1.0.0", "device-1", Guid.Empty, 1000, new Dictionary<string, double> { ["accuracy"] = 0.9 }, DateTimeOffset.UnixEpoch);
        return DeltaCodec.Encode(new WeightDelta(header, DeltaCompressor.Compress(delta, options)));
    }

    /// <summary>Adds payload size and compression ratio columns (computed in the host; they do not depend on timing).</summary>
    private sealed class SizeColumns : ManualConfig
    {
        public SizeColumns()
        {
            AddColumn(new SizeColumn("Bytes", ratio: false), new SizeColumn("vs fp32", ratio: true), new SizeColumn("MB/s in", ratio: false, throughput: true));
        }
    }

    private sealed class SizeColumn(string name, bool ratio, bool throughput = false) : IColumn
    {
        public string Id => nameof(SizeColumn) + name;

        public string ColumnName => name;

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => throughput ? "fp32 input megabytes per second" : ratio ? "full fp32 weights / payload" : "payload bytes";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var model = (string)benchmarkCase.Parameters["Model"];
            var mode = (string)benchmarkCase.Parameters["Mode"];
            var delta = MakeDelta(model);
            var inputBytes = 4.0 * delta.Sum(t => t.Count);
            if (throughput)
            {
                var report = summary[benchmarkCase];
                var ns = report?.ResultStatistics?.Mean;
                return ns is null ? "?" : (inputBytes / 1e6 / (ns.Value / 1e9)).ToString("0.0");
            }
            var bytes = Encode(delta, OptionsFor(mode)).Length;
            return ratio ? (inputBytes / bytes).ToString("0.0") + "x" : bytes.ToString();
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
