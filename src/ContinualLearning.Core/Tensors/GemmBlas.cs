using System.Runtime.InteropServices;

namespace ContinualLearning.Tensors;

/// <summary>
/// Optional route from <see cref="Gemm.Multiply"/> to a system BLAS's <c>cblas_sgemm</c>, chosen by
/// the environment variable <c>CL_GEMM</c>:
/// <list type="bullet">
/// <item><c>managed</c> (default, also when unset): the managed SIMD kernel, no native code.</item>
/// <item><c>auto</c>: OpenBLAS when it can be loaded (Debian: <c>libopenblas0</c>), else managed.
/// The reference netlib BLAS is deliberately skipped: it is slower than the managed kernel.</item>
/// <item><c>blas</c>: OpenBLAS, else any <c>libblas.so.3</c>/<c>libcblas.so.3</c>; fails if none loads.</item>
/// </list>
/// Nothing here is required: Core keeps no native dependency, this only looks for one at run time.
/// </summary>
internal sealed unsafe class GemmBlas
{
    private const int CblasRowMajor = 101;
    private const int CblasNoTrans = 111;
    private const int CblasTrans = 112;

    internal static readonly string[] OpenBlasNames =
        ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.dll", "openblas"];

    internal static readonly string[] AnyBlasNames =
        [.. OpenBlasNames, "libcblas.so.3", "libblas.so.3", "libblas.so", "libcblas.dylib"];

    private static readonly GemmBlas? _active;
    private static readonly string? _configurationError;

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;

    static GemmBlas()
    {
        var mode = Environment.GetEnvironmentVariable("CL_GEMM")?.Trim().ToLowerInvariant();
        switch (mode)
        {
            case null or "" or "managed":
                break;
            case "auto":
                _active = TryLoad(OpenBlasNames);
                break;
            case "blas":
                _active = TryLoad(AnyBlasNames);
                if (_active is null)
                {
                    _configurationError = "CL_GEMM=blas but no BLAS library with cblas_sgemm could be loaded (tried "
                        + string.Join(", ", AnyBlasNames)
                        + "); install one (Debian: apt-get install libopenblas0) or set CL_GEMM=managed or auto.";
                }

                break;
            default:
                _configurationError = $"CL_GEMM='{mode}' is not a GEMM backend; use managed, blas or auto.";
                break;
        }
    }

    private GemmBlas(string library, nint sgemm)
    {
        Library = library;
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
    }

    /// <summary>The BLAS <see cref="Gemm.Multiply"/> should use, or null for the managed kernel.</summary>
    internal static GemmBlas? Active =>
        _configurationError is null ? _active : throw new InvalidOperationException(_configurationError);

    /// <summary>The library name that was loaded.</summary>
    internal string Library { get; }

    /// <summary>Loads the first library in <paramref name="names"/> that exports <c>cblas_sgemm</c>.</summary>
    internal static GemmBlas? TryLoad(IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            if (!NativeLibrary.TryLoad(name, out var handle))
            {
                continue;
            }

            if (NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var sgemm))
            {
                // The handle stays loaded for the process lifetime, like a DllImport would.
                return new GemmBlas(name, sgemm);
            }

            NativeLibrary.Free(handle);
        }

        return null;
    }

    /// <summary>Same contract as <see cref="Gemm.Multiply"/>; arguments already validated, k ≥ 1.</summary>
    internal void Multiply(
        bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc)
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            _sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }
}
