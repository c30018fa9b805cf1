using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using ContinualLearning.Tensors;

namespace ContinualLearning.Benchmarks.Tensors;

/// <summary>
/// The GEMMs one train step of the reference heads issues (16→32→2, 128→256→10,
/// 512→512→512→10 at batch 32 and 256): forward Y = X·Wᵀ, weight gradient dW = dYᵀ·X and input
/// gradient dX = dY·W, each through the managed kernel (default threading and forced single
/// thread) next to the naive triple loop the kernel replaced.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- --filter '*GemmBenchmarks*' --job short</c>.
/// </summary>
[Config(typeof(GemmConfig))]
public class GemmBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];

    [ParamsSource(nameof(Cases))]
    public GemmCase Case { get; set; } = GemmCase.All()[0];

    public static IEnumerable<GemmCase> Cases() => GemmCase.All();

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _a = Fill(rng, Case.M * Case.K);
        _b = Fill(rng, Case.K * Case.N);
        _c = new float[Case.M * Case.N];
    }

    [Benchmark(Description = "managed")]
    public void Managed() =>
        Gemm.Multiply(Case.TransA, Case.TransB, Case.M, Case.N, Case.K, 1f, _a, Case.Lda, _b, Case.Ldb, 0f, _c, Case.N);

    [Benchmark(Description = "managed-1thread")]
    public void ManagedSingleThread() =>
        GemmKernel.Multiply(GemmKernel.ChooseSimd(Case.N), Case.TransA, Case.TransB, Case.M, Case.N, Case.K, 1f,
            _a, Case.Lda, _b, Case.Ldb, 0f, _c, Case.N, maxThreads: 1);

    [Benchmark(Baseline = true, Description = "naive")]
    public void Naive()
    {
        // The reference loop Gemm.Multiply started from: the baseline the kernel is scored against.
        var (m, n, k) = (Case.M, Case.N, Case.K);
        var (transA, transB, lda, ldb) = (Case.TransA, Case.TransB, Case.Lda, Case.Ldb);
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0f;
                for (var p = 0; p < k; p++)
                {
                    var av = transA ? _a[p * lda + i] : _a[i * lda + p];
                    var bv = transB ? _b[j * ldb + p] : _b[p * ldb + j];
                    sum += av * bv;
                }

                _c[i * n + j] = sum;
            }
        }
    }

    private static float[] Fill(Random rng, int length)
    {
        var values = new float[length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(rng.NextDouble() - 0.5);
        }

        return values;
    }
}

/// <summary>One GEMM of a train step: which pass of which layer, and its shape.</summary>
public sealed class GemmCase(string pass, int batch, int inFeatures, int outFeatures)
{
    public string Pass { get; } = pass;

    public bool TransA { get; } = pass == "dW";

    public bool TransB { get; } = pass == "fwd";

    /// <summary>fwd: Y[B×out] = X[B×in]·W[out×in]ᵀ; dW[out×in] = dY[B×out]ᵀ·X[B×in]; dX[B×in] = dY[B×out]·W[out×in].</summary>
    public int M { get; } = pass == "dW" ? outFeatures : batch;

    public int N { get; } = pass == "fwd" ? outFeatures : inFeatures;

    public int K { get; } = pass switch { "fwd" => inFeatures, "dW" => batch, _ => outFeatures };

    public int Lda => TransA ? M : K;

    public int Ldb => TransB ? K : N;

    public double Flops => 2.0 * M * N * K;

    /// <summary>Every distinct (pass, shape) the three reference heads produce at batch 32 and 256.</summary>
    public static GemmCase[] All()
    {
        int[][] heads = [[16, 32, 2], [128, 256, 10], [512, 512, 512, 10]];
        var cases = new List<GemmCase>();
        var seen = new HashSet<string>();
        foreach (var batch in new[] { 32, 256 })
        {
            foreach (var head in heads)
            {
                for (var layer = 0; layer + 1 < head.Length; layer++)
                {
                    foreach (var pass in new[] { "fwd", "dW", "dX" })
                    {
                        var c = new GemmCase(pass, batch, head[layer], head[layer + 1]);
                        if (seen.Add(c.ToString()))
                        {
                            cases.Add(c);
                        }
                    }
                }
            }
        }

        return [.. cases];
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Pass} {M}x{N}x{K}{(TransA ? " tA" : "")}{(TransB ? " tB" : "")}");
}

/// <summary>Adds a GFLOP/s column (2·M·N·K / mean time) and allocation counts.</summary>
public sealed class GemmConfig : ManualConfig
{
    public GemmConfig()
    {
        AddColumn(new GflopsColumn());
        AddDiagnoser(MemoryDiagnoser.Default);
    }

    private sealed class GflopsColumn : IColumn
    {
        public string Id => nameof(GflopsColumn);

        public string ColumnName => "GFLOP/s";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "Billions of floating-point operations per second, 2·M·N·K / mean";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            var gemm = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<GemmCase>().FirstOrDefault();
            if (report?.ResultStatistics is not { } stats || gemm is null || stats.Mean <= 0)
            {
                return "-";
            }

            return (gemm.Flops / stats.Mean).ToString("F2", CultureInfo.InvariantCulture); // flop per ns = GFLOP/s
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
