using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace ContinualLearning.Tensors;

/// <summary>SIMD width a managed GEMM run uses; tests force each one to cover every kernel.</summary>
internal enum GemmSimd
{
    /// <summary>6×8 micro-kernel on 128-bit vectors (SSE, ARM64 NEON; software-emulated elsewhere).</summary>
    Vector128,

    /// <summary>6×16 micro-kernel on 256-bit vectors (AVX2 + FMA).</summary>
    Vector256,

    /// <summary>6×32 micro-kernel on 512-bit vectors (AVX-512).</summary>
    Vector512,
}

/// <summary>
/// Managed GEMM in the BLIS/GotoBLAS shape: B is packed into KC×NR column panels (one stays in L1
/// while it is reused across every row panel of A), A into MC×KC blocks of MR-row panels (kept in
/// L2), and an MR×NR register-blocked micro-kernel does the FMAs from the two contiguous buffers.
/// Packing also absorbs the transposes and the ragged edges (zero padding), so the micro-kernel
/// has a single, branch-free inner loop.
/// </summary>
internal static unsafe class GemmKernel
{
    /// <summary>Rows per micro-tile: 6 rows × 2 vectors = 12 accumulators, which leaves room for
    /// the two B vectors and the A broadcast inside the 16 registers of AVX2.</summary>
    internal const int MR = 6;

    /// <summary>Depth of a packed block: a KC×NR panel of B (16 KiB at NR=16) stays in L1.</summary>
    internal const int KC = 256;

    /// <summary>Rows of A packed at once: MC×KC floats (≈144 KiB) sit in L2 while the B panels stream.</summary>
    internal const int MC = 144;

    /// <summary>Columns of B packed at once (KC×NC floats, 2 MiB worst case, lives in L2/L3).</summary>
    internal const int NC = 2048;

    private const int MaxNR = 32;

    /// <summary>Below this many multiply-adds a second thread costs more than it saves.</summary>
    internal const long ParallelThreshold = 1L << 22;

    /// <summary>The widest kernel the hardware accelerates.</summary>
    internal static readonly GemmSimd Preferred =
        Vector512.IsHardwareAccelerated ? GemmSimd.Vector512
        : Vector256.IsHardwareAccelerated ? GemmSimd.Vector256
        : GemmSimd.Vector128;

    /// <summary>Threads a large product may use: <c>CL_GEMM_THREADS</c> or the processor count.</summary>
    internal static readonly int MaxThreads = ReadMaxThreads();

    // Per-thread packing buffers on the pinned heap: grown to the largest shape seen, then reused,
    // so steady-state calls allocate nothing and can take a 64-byte-aligned raw pointer.
    [ThreadStatic] private static float[]? _packA;
    [ThreadStatic] private static float[]? _packB;

    /// <summary>Managed GEMM; arguments are already validated by <see cref="Gemm.Multiply"/>, k ≥ 1.</summary>
    internal static void Multiply(
        GemmSimd simd, bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc, int maxThreads = 0)
    {
        var threads = ChooseThreads(m, n, k, maxThreads > 0 ? maxThreads : MaxThreads);
        fixed (float* pa = a, pb = b, pc = c)
        {
            var args = new Args(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);

            switch (simd)
            {
                case GemmSimd.Vector512:
                    Run<Kernel512>(args, threads);
                    break;
                case GemmSimd.Vector256:
                    Run<Kernel256>(args, threads);
                    break;
                default:
                    Run<Kernel128>(args, threads);
                    break;
            }
        }
    }

    /// <summary>
    /// The kernel for an output <paramref name="n"/> columns wide: narrow outputs (a 10- or 2-class
    /// layer) would waste most of a 32-wide tile on zero padding, so they step down to a narrower
    /// kernel that does the same work with fewer wasted lanes.
    /// </summary>
    internal static GemmSimd ChooseSimd(int n)
    {
        var simd = Preferred;
        if (simd == GemmSimd.Vector512 && n <= 16)
        {
            simd = GemmSimd.Vector256;
        }

        if (simd == GemmSimd.Vector256 && n <= 8 && Vector128.IsHardwareAccelerated)
        {
            simd = GemmSimd.Vector128;
        }

        return simd;
    }

    /// <summary>C = beta·C (beta = 0 clears without reading, as BLAS does), for k = 0.</summary>
    internal static void ScaleC(int m, int n, float beta, Span<float> c, int ldc)
    {
        for (var i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (beta == 0f)
            {
                row.Clear();
            }
            else
            {
                TensorPrimitives.Multiply(row, beta, row);
            }
        }
    }

    private static int ChooseThreads(int m, int n, int k, int maxThreads)
    {
        if (maxThreads <= 1 || (long)m * n * k < ParallelThreshold)
        {
            return 1;
        }

        return maxThreads;
    }

    private static int ReadMaxThreads()
    {
        var text = Environment.GetEnvironmentVariable("CL_GEMM_THREADS");
        return int.TryParse(text, out var t) && t >= 1 ? t : Environment.ProcessorCount;
    }

    /// <summary>The call's operands as raw pointers, so they can cross into worker threads.</summary>
    internal readonly struct Args(
        bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        public readonly bool TransA = transA;
        public readonly bool TransB = transB;
        public readonly int M = m;
        public readonly int N = n;
        public readonly int K = k;
        public readonly float Alpha = alpha;
        public readonly float* A = a;
        public readonly int Lda = lda;
        public readonly float* B = b;
        public readonly int Ldb = ldb;
        public readonly float Beta = beta;
        public readonly float* C = c;
        public readonly int Ldc = ldc;
    }

    private static void Run<TK>(in Args g, int threads)
        where TK : struct, IMicroKernel
    {
        var nr = TK.NR;
        var packB = Rent(ref _packB, KC * RoundUp(Math.Min(g.N, NC), nr));
        for (var jc = 0; jc < g.N; jc += NC)
        {
            var nc = Math.Min(NC, g.N - jc);
            for (var p0 = 0; p0 < g.K; p0 += KC)
            {
                var kc = Math.Min(KC, g.K - p0);
                PackB(g.TransB, g.B, g.Ldb, p0, jc, kc, nc, nr, packB);

                // Later depth blocks accumulate onto what the first one wrote.
                var beta = p0 == 0 ? g.Beta : 1f;
                if (threads == 1)
                {
                    Block<TK>(g, 0, g.M, 0, nc, p0, kc, jc, packB, beta);
                }
                else
                {
                    RunParallel<TK>(g, threads, p0, kc, jc, nc, packB, beta);
                }
            }
        }
    }

    private static void RunParallel<TK>(in Args g, int threads, int p0, int kc, int jc, int nc, float* packB, float beta)
        where TK : struct, IMicroKernel
    {
        // Split along whichever dimension gives every thread several micro-tiles: rows when M is
        // large (forward and dX), columns when it is small (dW of a narrow layer).
        var rowTiles = (g.M + MR - 1) / MR;
        var colTiles = (nc + TK.NR - 1) / TK.NR;
        var byRows = rowTiles >= colTiles;
        var tiles = byRows ? rowTiles : colTiles;
        var pool = GemmWorkerPool.Shared;
        var parts = Math.Min(Math.Min(threads, tiles), pool.Helpers + 1);
        var job = new Job(g, p0, kc, jc, nc, packB, beta, tiles, byRows, parts);
        if (parts <= 1 || !pool.TryRun(job, &RunPart<TK>))
        {
            // Too little work to share, or another caller holds the helpers: run it here.
            Block<TK>(g, 0, g.M, 0, nc, p0, kc, jc, packB, beta);
        }
    }

    private static void RunPart<TK>(in Job job, int part)
        where TK : struct, IMicroKernel
    {
        var t0 = (int)((long)job.Tiles * part / job.Parts);
        var t1 = (int)((long)job.Tiles * (part + 1) / job.Parts);
        if (job.ByRows)
        {
            Block<TK>(job.G, t0 * MR, Math.Min(job.G.M, t1 * MR), 0, job.Nc, job.P0, job.Kc, job.Jc, job.PackB, job.Beta);
        }
        else
        {
            Block<TK>(job.G, 0, job.G.M, t0 * TK.NR, Math.Min(job.Nc, t1 * TK.NR), job.P0, job.Kc, job.Jc, job.PackB, job.Beta);
        }
    }

    /// <summary>One (jc, p0) block of a product, shared between <see cref="Job.Parts"/> threads.</summary>
    internal readonly struct Job(Args g, int p0, int kc, int jc, int nc, float* packB, float beta, int tiles, bool byRows, int parts)
    {
        public readonly Args G = g;
        public readonly int P0 = p0;
        public readonly int Kc = kc;
        public readonly int Jc = jc;
        public readonly int Nc = nc;
        public readonly float* PackB = packB;
        public readonly float Beta = beta;
        public readonly int Tiles = tiles;
        public readonly bool ByRows = byRows;
        public readonly int Parts = parts;
    }

    /// <summary>Rows [r0, r1) × packed columns [j0, j1) of the current (jc, p0) block.</summary>
    private static void Block<TK>(
        in Args g, int r0, int r1, int j0, int j1, int p0, int kc, int jc, float* packB, float beta)
        where TK : struct, IMicroKernel
    {
        var nrFull = TK.NR;
        var packA = Rent(ref _packA, MC * KC);
        var edge = stackalloc float[MR * MaxNR];
        for (var ic = r0; ic < r1; ic += MC)
        {
            var mc = Math.Min(MC, r1 - ic);
            PackA(g.TransA, g.A, g.Lda, ic, p0, mc, kc, packA);
            for (var jr = j0; jr < j1; jr += nrFull)
            {
                var nr = Math.Min(nrFull, j1 - jr);
                var bPanel = packB + (long)jr * kc;
                for (var ir = 0; ir < mc; ir += MR)
                {
                    var mr = Math.Min(MR, mc - ir);
                    var aPanel = packA + (long)ir * kc;
                    var cTile = g.C + (long)(ic + ir) * g.Ldc + jc + jr;
                    if (mr == MR && nr == nrFull)
                    {
                        TK.Run(kc, aPanel, bPanel, cTile, g.Ldc, g.Alpha, beta);
                    }
                    else
                    {
                        // Ragged edge: compute the whole padded tile into scratch, copy what fits.
                        TK.Run(kc, aPanel, bPanel, edge, nrFull, 1f, 0f);
                        MergeEdge(edge, nrFull, cTile, g.Ldc, mr, nr, g.Alpha, beta);
                    }
                }
            }
        }
    }

    private static void MergeEdge(float* tile, int ldt, float* c, int ldc, int mr, int nr, float alpha, float beta)
    {
        for (var i = 0; i < mr; i++)
        {
            var src = tile + i * ldt;
            var dst = c + (long)i * ldc;
            if (beta == 0f)
            {
                for (var j = 0; j < nr; j++)
                {
                    dst[j] = alpha * src[j];
                }
            }
            else
            {
                for (var j = 0; j < nr; j++)
                {
                    dst[j] = alpha * src[j] + beta * dst[j];
                }
            }
        }
    }

    /// <summary>
    /// Packs rows [ic, ic+mc) × depth [p0, p0+kc) of op(A) as MR-row panels, each stored depth-major
    /// (kc groups of MR values), zero-padding the last panel's missing rows.
    /// </summary>
    private static void PackA(bool transA, float* a, int lda, int ic, int p0, int mc, int kc, float* dst)
    {
        for (var ir = 0; ir < mc; ir += MR)
        {
            var mr = Math.Min(MR, mc - ir);
            var d = dst + (long)ir * kc;
            if (transA)
            {
                // Stored K×M: the MR values for one depth step are contiguous.
                var src = a + (long)p0 * lda + ic + ir;
                for (var p = 0; p < kc; p++, src += lda, d += MR)
                {
                    var i = 0;
                    for (; i < mr; i++)
                    {
                        d[i] = src[i];
                    }

                    for (; i < MR; i++)
                    {
                        d[i] = 0f;
                    }
                }
            }
            else if (mr == MR)
            {
                // Stored M×K: read the six rows side by side so the writes stay sequential.
                var s0 = a + (long)(ic + ir) * lda + p0;
                var s1 = s0 + lda;
                var s2 = s1 + lda;
                var s3 = s2 + lda;
                var s4 = s3 + lda;
                var s5 = s4 + lda;
                for (var p = 0; p < kc; p++, d += MR)
                {
                    d[0] = s0[p];
                    d[1] = s1[p];
                    d[2] = s2[p];
                    d[3] = s3[p];
                    d[4] = s4[p];
                    d[5] = s5[p];
                }
            }
            else
            {
                for (var i = 0; i < MR; i++)
                {
                    if (i < mr)
                    {
                        var s = a + (long)(ic + ir + i) * lda + p0;
                        for (var p = 0; p < kc; p++)
                        {
                            d[p * MR + i] = s[p];
                        }
                    }
                    else
                    {
                        for (var p = 0; p < kc; p++)
                        {
                            d[p * MR + i] = 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs depth [p0, p0+kc) × columns [jc, jc+nc) of op(B) as NR-column panels, each stored
    /// depth-major (kc rows of NR values), zero-padding the last panel's missing columns.
    /// </summary>
    private static void PackB(bool transB, float* b, int ldb, int p0, int jc, int kc, int nc, int nrFull, float* dst)
    {
        for (var jr = 0; jr < nc; jr += nrFull)
        {
            var nr = Math.Min(nrFull, nc - jr);
            var d = dst + (long)jr * kc;
            if (!transB)
            {
                // Stored K×N: each depth row of the panel is a contiguous run.
                var src = b + (long)p0 * ldb + jc + jr;
                for (var p = 0; p < kc; p++, src += ldb, d += nrFull)
                {
                    if (nr == nrFull)
                    {
                        CopyRow(src, d, nrFull);
                    }
                    else
                    {
                        var j = 0;
                        for (; j < nr; j++)
                        {
                            d[j] = src[j];
                        }

                        for (; j < nrFull; j++)
                        {
                            d[j] = 0f;
                        }
                    }
                }
            }
            else
            {
                // Stored N×K: a transpose. Four source rows are read side by side (each one
                // sequentially) and written as four adjacent values of every packed row, which keeps
                // both the reads and the writes within a few cache lines at a time.
                var j = 0;
                for (; j + 4 <= nr; j += 4)
                {
                    var s0 = b + (long)(jc + jr + j) * ldb + p0;
                    var s1 = s0 + ldb;
                    var s2 = s1 + ldb;
                    var s3 = s2 + ldb;
                    var col = d + j;
                    for (var p = 0; p < kc; p++, col += nrFull)
                    {
                        col[0] = s0[p];
                        col[1] = s1[p];
                        col[2] = s2[p];
                        col[3] = s3[p];
                    }
                }

                for (; j < nrFull; j++)
                {
                    var col = d + j;
                    if (j < nr)
                    {
                        var src = b + (long)(jc + jr + j) * ldb + p0;
                        for (var p = 0; p < kc; p++)
                        {
                            col[p * nrFull] = src[p];
                        }
                    }
                    else
                    {
                        for (var p = 0; p < kc; p++)
                        {
                            col[p * nrFull] = 0f;
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(float* src, float* dst, int count)
    {
        // count is 8, 16 or 32 (one micro-panel row).
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= count; i += 8)
            {
                Vector256.Store(Vector256.Load(src + i), dst + i);
            }
        }

        for (; i + 4 <= count; i += 4)
        {
            Vector128.Store(Vector128.Load(src + i), dst + i);
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static float* Rent(ref float[]? buffer, int length)
    {
        // 16 spare floats let the start be rounded up to a 64-byte boundary (one cache line).
        if (buffer is null || buffer.Length < length + 16)
        {
            buffer = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        }

        var start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((start + 63) & ~(nint)63);
    }

    /// <summary>An MR×NR register-blocked tile update: C = alpha·(Apanel·Bpanel) + beta·C.</summary>
    private interface IMicroKernel
    {
        static abstract int NR { get; }

        /// <summary>
        /// <paramref name="a"/>: kc×MR packed panel; <paramref name="b"/>: kc×NR packed panel;
        /// beta = 0 writes C without reading it.
        /// </summary>
        static abstract void Run(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta);
    }

    private readonly struct Kernel256 : IMicroKernel
    {
        public static int NR => 16;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
            Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
            for (var p = 0; p < kc; p++)
            {
                var b0 = Vector256.Load(b);
                var b1 = Vector256.Load(b + 8);
                var av = Vector256.Create(a[0]);
                c00 = Vector256.MultiplyAddEstimate(av, b0, c00);
                c01 = Vector256.MultiplyAddEstimate(av, b1, c01);
                av = Vector256.Create(a[1]);
                c10 = Vector256.MultiplyAddEstimate(av, b0, c10);
                c11 = Vector256.MultiplyAddEstimate(av, b1, c11);
                av = Vector256.Create(a[2]);
                c20 = Vector256.MultiplyAddEstimate(av, b0, c20);
                c21 = Vector256.MultiplyAddEstimate(av, b1, c21);
                av = Vector256.Create(a[3]);
                c30 = Vector256.MultiplyAddEstimate(av, b0, c30);
                c31 = Vector256.MultiplyAddEstimate(av, b1, c31);
                av = Vector256.Create(a[4]);
                c40 = Vector256.MultiplyAddEstimate(av, b0, c40);
                c41 = Vector256.MultiplyAddEstimate(av, b1, c41);
                av = Vector256.Create(a[5]);
                c50 = Vector256.MultiplyAddEstimate(av, b0, c50);
                c51 = Vector256.MultiplyAddEstimate(av, b1, c51);
                a += MR;
                b += 16;
            }

            var va = Vector256.Create(alpha);
            if (beta == 0f)
            {
                Put(c, c00 * va, c01 * va);
                Put(c += ldc, c10 * va, c11 * va);
                Put(c += ldc, c20 * va, c21 * va);
                Put(c += ldc, c30 * va, c31 * va);
                Put(c += ldc, c40 * va, c41 * va);
                Put(c += ldc, c50 * va, c51 * va);
            }
            else
            {
                var vb = Vector256.Create(beta);
                Blend(c, c00, c01, va, vb);
                Blend(c += ldc, c10, c11, va, vb);
                Blend(c += ldc, c20, c21, va, vb);
                Blend(c += ldc, c30, c31, va, vb);
                Blend(c += ldc, c40, c41, va, vb);
                Blend(c += ldc, c50, c51, va, vb);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* c, Vector256<float> x0, Vector256<float> x1)
        {
            x0.Store(c);
            x1.Store(c + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Blend(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb)
        {
            Vector256.MultiplyAddEstimate(vb, Vector256.Load(c), x0 * va).Store(c);
            Vector256.MultiplyAddEstimate(vb, Vector256.Load(c + 8), x1 * va).Store(c + 8);
        }
    }

    private readonly struct Kernel512 : IMicroKernel
    {
        public static int NR => 32;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
            Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
            for (var p = 0; p < kc; p++)
            {
                var b0 = Vector512.Load(b);
                var b1 = Vector512.Load(b + 16);
                var av = Vector512.Create(a[0]);
                c00 = Vector512.MultiplyAddEstimate(av, b0, c00);
                c01 = Vector512.MultiplyAddEstimate(av, b1, c01);
                av = Vector512.Create(a[1]);
                c10 = Vector512.MultiplyAddEstimate(av, b0, c10);
                c11 = Vector512.MultiplyAddEstimate(av, b1, c11);
                av = Vector512.Create(a[2]);
                c20 = Vector512.MultiplyAddEstimate(av, b0, c20);
                c21 = Vector512.MultiplyAddEstimate(av, b1, c21);
                av = Vector512.Create(a[3]);
                c30 = Vector512.MultiplyAddEstimate(av, b0, c30);
                c31 = Vector512.MultiplyAddEstimate(av, b1, c31);
                av = Vector512.Create(a[4]);
                c40 = Vector512.MultiplyAddEstimate(av, b0, c40);
                c41 = Vector512.MultiplyAddEstimate(av, b1, c41);
                av = Vector512.Create(a[5]);
                c50 = Vector512.MultiplyAddEstimate(av, b0, c50);
                c51 = Vector512.MultiplyAddEstimate(av, b1, c51);
                a += MR;
                b += 32;
            }

            var va = Vector512.Create(alpha);
            if (beta == 0f)
            {
                Put(c, c00 * va, c01 * va);
                Put(c += ldc, c10 * va, c11 * va);
                Put(c += ldc, c20 * va, c21 * va);
                Put(c += ldc, c30 * va, c31 * va);
                Put(c += ldc, c40 * va, c41 * va);
                Put(c += ldc, c50 * va, c51 * va);
            }
            else
            {
                var vb = Vector512.Create(beta);
                Blend(c, c00, c01, va, vb);
                Blend(c += ldc, c10, c11, va, vb);
                Blend(c += ldc, c20, c21, va, vb);
                Blend(c += ldc, c30, c31, va, vb);
                Blend(c += ldc, c40, c41, va, vb);
                Blend(c += ldc, c50, c51, va, vb);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* c, Vector512<float> x0, Vector512<float> x1)
        {
            x0.Store(c);
            x1.Store(c + 16);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Blend(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> va, Vector512<float> vb)
        {
            Vector512.MultiplyAddEstimate(vb, Vector512.Load(c), x0 * va).Store(c);
            Vector512.MultiplyAddEstimate(vb, Vector512.Load(c + 16), x1 * va).Store(c + 16);
        }
    }

    private readonly struct Kernel128 : IMicroKernel
    {
        public static int NR => 8;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
        {
            Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector128<float> c20 = default, c21 = default, c30 = default, c31 = default;
            Vector128<float> c40 = default, c41 = default, c50 = default, c51 = default;
            for (var p = 0; p < kc; p++)
            {
                var b0 = Vector128.Load(b);
                var b1 = Vector128.Load(b + 4);
                var av = Vector128.Create(a[0]);
                c00 = Vector128.MultiplyAddEstimate(av, b0, c00);
                c01 = Vector128.MultiplyAddEstimate(av, b1, c01);
                av = Vector128.Create(a[1]);
                c10 = Vector128.MultiplyAddEstimate(av, b0, c10);
                c11 = Vector128.MultiplyAddEstimate(av, b1, c11);
                av = Vector128.Create(a[2]);
                c20 = Vector128.MultiplyAddEstimate(av, b0, c20);
                c21 = Vector128.MultiplyAddEstimate(av, b1, c21);
                av = Vector128.Create(a[3]);
                c30 = Vector128.MultiplyAddEstimate(av, b0, c30);
                c31 = Vector128.MultiplyAddEstimate(av, b1, c31);
                av = Vector128.Create(a[4]);
                c40 = Vector128.MultiplyAddEstimate(av, b0, c40);
                c41 = Vector128.MultiplyAddEstimate(av, b1, c41);
                av = Vector128.Create(a[5]);
                c50 = Vector128.MultiplyAddEstimate(av, b0, c50);
                c51 = Vector128.MultiplyAddEstimate(av, b1, c51);
                a += MR;
                b += 8;
            }

            var va = Vector128.Create(alpha);
            if (beta == 0f)
            {
                Put(c, c00 * va, c01 * va);
                Put(c += ldc, c10 * va, c11 * va);
                Put(c += ldc, c20 * va, c21 * va);
                Put(c += ldc, c30 * va, c31 * va);
                Put(c += ldc, c40 * va, c41 * va);
                Put(c += ldc, c50 * va, c51 * va);
            }
            else
            {
                var vb = Vector128.Create(beta);
                Blend(c, c00, c01, va, vb);
                Blend(c += ldc, c10, c11, va, vb);
                Blend(c += ldc, c20, c21, va, vb);
                Blend(c += ldc, c30, c31, va, vb);
                Blend(c += ldc, c40, c41, va, vb);
                Blend(c += ldc, c50, c51, va, vb);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(float* c, Vector128<float> x0, Vector128<float> x1)
        {
            x0.Store(c);
            x1.Store(c + 4);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Blend(float* c, Vector128<float> x0, Vector128<float> x1, Vector128<float> va, Vector128<float> vb)
        {
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c), x0 * va).Store(c);
            Vector128.MultiplyAddEstimate(vb, Vector128.Load(c + 4), x1 * va).Store(c + 4);
        }
    }
}
