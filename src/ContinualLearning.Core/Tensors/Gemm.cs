namespace ContinualLearning.Tensors;

/// <summary>
/// Single-precision matrix multiply, row-major: <c>C = alpha·op(A)·op(B) + beta·C</c>, with
/// op(A) M×K and op(B) K×N. The managed engine's dense layers are built on this one routine, so
/// its speed decides the large heads' speed.
/// </summary>
/// <remarks>
/// The body is a cache-blocked, packed SIMD kernel (<see cref="GemmKernel"/>); when the environment
/// variable <c>CL_GEMM</c> is <c>blas</c> or <c>auto</c> and a system BLAS with <c>cblas_sgemm</c> can
/// be loaded, the call goes there instead (<see cref="GemmBlas"/>). With <c>beta = 0</c> the old
/// contents of C are never read, so C may hold garbage (even NaN) on entry.
/// </remarks>
public static class Gemm
{
    /// <summary>
    /// Row-major GEMM. <paramref name="transA"/>: A is stored K×M (lda ≥ M) instead of M×K (lda ≥ K);
    /// likewise <paramref name="transB"/>: B stored N×K instead of K×N.
    /// </summary>
    public static void Multiply(
        bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc)
    {
        // The kernels read through raw pointers, so every bound is checked here, once per call.
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            GemmKernel.ScaleC(m, n, beta, c, ldc);
            return;
        }

        if (GemmBlas.Active is { } blas)
        {
            blas.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }

        GemmKernel.Multiply(GemmKernel.ChooseSimd(n), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    internal static void Validate(
        bool transA, bool transB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(m), $"GEMM dimensions must be non-negative, got m={m}, n={n}, k={k}.");
        }

        // Stored shapes: A is (transA ? K×M : M×K), B is (transB ? N×K : K×N), C is M×N.
        var (aRows, aCols) = transA ? (k, m) : (m, k);
        var (bRows, bCols) = transB ? (n, k) : (k, n);
        CheckOperand("A", aRows, aCols, aLength, lda, nameof(lda));
        CheckOperand("B", bRows, bCols, bLength, ldb, nameof(ldb));
        CheckOperand("C", m, n, cLength, ldc, nameof(ldc));
    }

    private static void CheckOperand(string name, int rows, int cols, int length, int ld, string ldName)
    {
        if (ld < Math.Max(1, cols))
        {
            throw new ArgumentOutOfRangeException(ldName, $"GEMM {ldName}={ld} is smaller than the {cols} columns of stored {name} ({rows}×{cols}); pass a leading dimension ≥ {Math.Max(1, cols)}.");
        }

        if (rows == 0 || cols == 0)
        {
            return;
        }

        var needed = ((long)rows - 1) * ld + cols;
        if (length < needed)
        {
            throw new ArgumentException($"GEMM operand {name} ({rows}×{cols}, leading dimension {ld}) needs at least {needed} elements but its span holds {length}; check the shape and the leading dimension.", name.ToLowerInvariant());
        }
    }
}
