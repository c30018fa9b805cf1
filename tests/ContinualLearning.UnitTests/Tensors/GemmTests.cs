using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Tensors;

/// <summary>
/// Checks the managed GEMM kernels (every SIMD width, both thread modes) and the public entry point
/// against a naive double-precision reference, over shapes chosen to hit every edge of the blocking:
/// sizes below/at/above the micro-tile (6×8/16/32), the depth block (256) and the row block (144).
/// </summary>
public sealed class GemmTests(ITestOutputHelper output)
{
    private static readonly (int M, int N, int K)[] FixedShapes =
    [
        (1, 1, 1), (1, 7, 3), (2, 1, 9), (5, 17, 9), (6, 16, 1), (6, 32, 8), (7, 33, 17),
        (12, 8, 4), (13, 1, 5), (32, 32, 16), (32, 2, 32), (10, 32, 32), (16, 128, 32),
        (3, 9, 257), (37, 65, 300), (150, 40, 20), (145, 31, 513), (64, 70, 256),
    ];

    private static readonly (float Alpha, float Beta)[] Scalars =
        [(1f, 0f), (1f, 1f), (0.5f, -1.5f), (-2f, 0f), (0f, 0.25f)];

    // The SIMD width travels as an int: GemmSimd is internal and xUnit needs public signatures.
    public static TheoryData<int, bool, bool> Kernels()
    {
        var data = new TheoryData<int, bool, bool>();
        foreach (var simd in Enum.GetValues<GemmSimd>())
        {
            foreach (var ta in new[] { false, true })
            {
                foreach (var tb in new[] { false, true })
                {
                    data.Add((int)simd, ta, tb);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_matches_double_reference_on_edge_shapes(int simdWidth, bool transA, bool transB)
    {
        var simd = (GemmSimd)simdWidth;
        var rng = new Random(1234 + (int)simd * 4 + (transA ? 2 : 0) + (transB ? 1 : 0));
        var i = 0;
        foreach (var (m, n, k) in FixedShapes)
        {
            var (alpha, beta) = Scalars[i++ % Scalars.Length];
            CheckOne(rng, simd, transA, transB, m, n, k, alpha, beta, pad: i % 3 == 0 ? 0 : 1 + rng.Next(5), threads: 1);
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_matches_double_reference_on_random_shapes(int simdWidth, bool transA, bool transB)
    {
        var simd = (GemmSimd)simdWidth;
        var rng = new Random(99 + (int)simd * 4 + (transA ? 2 : 0) + (transB ? 1 : 0));
        for (var trial = 0; trial < 25; trial++)
        {
            var m = 1 + rng.Next(70);
            var n = 1 + rng.Next(70);
            var k = 1 + rng.Next(trial % 5 == 0 ? 600 : 70);
            var (alpha, beta) = Scalars[rng.Next(Scalars.Length)];
            CheckOne(rng, simd, transA, transB, m, n, k, alpha, beta, pad: rng.Next(4), threads: 1);
        }
    }

    [Theory]
    [InlineData(false, true, 200, 300, 100)] // split by rows (forward: batch × out)
    [InlineData(true, false, 10, 600, 400)] // split by columns (dW of a narrow layer)
    [InlineData(false, false, 256, 512, 512)]
    public void Parallel_kernel_matches_double_reference(bool transA, bool transB, int m, int n, int k)
    {
        var rng = new Random(m + n + k);
        CheckOne(rng, GemmKernel.Preferred, transA, transB, m, n, k, 0.75f, 0.5f, pad: 3, threads: 2);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Public_entry_point_matches_double_reference(bool transA, bool transB)
    {
        var rng = new Random(7);
        foreach (var (m, n, k) in FixedShapes)
        {
            var pad = rng.Next(3);
            var (alpha, beta) = Scalars[rng.Next(Scalars.Length)];
            var (a, lda, b, ldb, c, ldc) = Operands(rng, transA, transB, m, n, k, pad);
            var expected = Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, out var bound);
            Gemm.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            AssertClose(expected, bound, c, m, n, k, ldc, $"public {transA}/{transB} {m}×{n}×{k}");
        }
    }

    [Fact]
    public void Beta_zero_ignores_garbage_in_c()
    {
        var a = new float[] { 1, 2, 3, 4 };
        var b = new float[] { 5, 6, 7, 8 };
        var c = new[] { float.NaN, float.PositiveInfinity, float.NaN, float.NegativeInfinity };
        Gemm.Multiply(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c);
    }

    [Fact]
    public void Zero_depth_scales_c_by_beta()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Gemm.Multiply(false, false, 2, 3, 0, 1f, [], 1, [], 3, 2f, c, 3);
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, c);
        Gemm.Multiply(true, true, 2, 3, 0, 1f, [], 2, [], 1, 0f, c, 3);
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Too_short_operand_is_rejected_with_its_name()
    {
        var a = new float[5]; // 2×3 needs 6
        var b = new float[6];
        var c = new float[4];
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
        Assert.Contains("A", ex.Message, StringComparison.Ordinal);
        Assert.Contains("6", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_small_leading_dimension_is_rejected()
    {
        var buffer = new float[64];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(
            () => Gemm.Multiply(false, true, 4, 4, 4, 1f, buffer, 4, buffer, 3, 0f, new float[16], 4));
        Assert.Equal("ldb", ex.ParamName);
    }

    [Fact]
    public void Steady_state_calls_allocate_nothing()
    {
        // The head shapes of a train step at batch 32 (below the parallel threshold).
        (bool TA, bool TB, int M, int N, int K)[] shapes =
        [
            (false, true, 32, 32, 16), (true, false, 32, 16, 32), (false, false, 32, 16, 32),
            (false, true, 32, 256, 128), (true, false, 256, 128, 32), (false, false, 32, 128, 256),
            (false, true, 32, 512, 512), (true, false, 512, 512, 32), (false, false, 32, 512, 512),
        ];
        var rng = new Random(3);
        var a = Random(rng, 512 * 512);
        var b = Random(rng, 512 * 512);
        var c = new float[512 * 512];

        void RunAll()
        {
            foreach (var (ta, tb, m, n, k) in shapes)
            {
                Gemm.Multiply(ta, tb, m, n, k, 1f, a, ta ? m : k, b, tb ? k : n, 0.5f, c, n);
            }
        }

        RunAll(); // warm-up: grows the thread's packing buffers, JIT-compiles everything
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++)
        {
            RunAll();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void System_blas_matches_double_reference_when_installed()
    {
        var blas = GemmBlas.TryLoad(GemmBlas.AnyBlasNames);
        TestDependency.Blas.Require(blas is not null);

        output.WriteLine($"Using {blas.Library}");
        var rng = new Random(11);
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            foreach (var (m, n, k) in FixedShapes)
            {
                var (a, lda, b, ldb, c, ldc) = Operands(rng, ta, tb, m, n, k, pad: 2);
                var expected = Reference(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, -1f, c, ldc, out var bound);
                blas.Multiply(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, -1f, c, ldc);
                AssertClose(expected, bound, c, m, n, k, ldc, $"blas {ta}/{tb} {m}×{n}×{k}");
            }
        }
    }

    [Fact]
    public void Unloadable_blas_name_yields_null()
        => Assert.Null(GemmBlas.TryLoad(["libdoes-not-exist-cl-gemm.so"]));

    private static void CheckOne(
        Random rng, GemmSimd simd, bool transA, bool transB, int m, int n, int k,
        float alpha, float beta, int pad, int threads)
    {
        var (a, lda, b, ldb, c, ldc) = Operands(rng, transA, transB, m, n, k, pad);
        var expected = Reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, out var bound);
        GemmKernel.Multiply(simd, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
        AssertClose(expected, bound, c, m, n, k, ldc, $"{simd} transA={transA} transB={transB} {m}×{n}×{k} α={alpha} β={beta} pad={pad}");
    }

    private static (float[] A, int Lda, float[] B, int Ldb, float[] C, int Ldc) Operands(
        Random rng, bool transA, bool transB, int m, int n, int k, int pad)
    {
        var (aRows, aCols) = transA ? (k, m) : (m, k);
        var (bRows, bCols) = transB ? (n, k) : (k, n);
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        var a = Random(rng, aRows * lda);
        var b = Random(rng, bRows * ldb);
        var c = Random(rng, m * ldc);
        return (a, lda, b, ldb, c, ldc);
    }

    private static float[] Random(Random rng, int length)
    {
        var values = new float[length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return values;
    }

    /// <summary>Naive double-precision GEMM; <paramref name="bound"/> gets Σ|terms| per element,
    /// the scale rounding error is proportional to.</summary>
    private static double[] Reference(
        bool transA, bool transB, int m, int n, int k, float alpha,
        float[] a, int lda, float[] b, int ldb, float beta, float[] c, int ldc, out double[] bound)
    {
        var result = new double[c.Length];
        bound = new double[c.Length];
        for (var idx = 0; idx < c.Length; idx++)
        {
            result[idx] = c[idx]; // padding columns must come back untouched
        }

        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (var p = 0; p < k; p++)
                {
                    double av = transA ? a[p * lda + i] : a[i * lda + p];
                    double bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                    abs += Math.Abs(av * bv);
                }

                var idx = i * ldc + j;
                result[idx] = alpha * sum + (beta == 0f ? 0 : beta * (double)c[idx]);
                bound[idx] = Math.Abs(alpha) * abs + Math.Abs(beta * (double)c[idx]);
            }
        }

        return result;
    }

    private static void AssertClose(double[] expected, double[] bound, float[] actual, int m, int n, int k, int ldc, string what)
    {
        for (var idx = 0; idx < actual.Length; idx++)
        {
            var row = idx / ldc;
            var col = idx % ldc;
            if (row >= m || col >= n)
            {
                Assert.True(expected[idx] == actual[idx], $"{what}: padding C[{row},{col}] was overwritten");
                continue;
            }

            var tolerance = 1e-5 * Math.Max(k, 1) * Math.Max(bound[idx], 1e-30);
            var error = Math.Abs(actual[idx] - expected[idx]);
            Assert.True(error <= tolerance, $"{what}: C[{row},{col}] = {actual[idx]}, expected {expected[idx]} (error {error:g3} > {tolerance:g3})");
        }
    }
}
