namespace ContinualLearning.Tensors;

/// <summary>
/// Single-precision matrix multiply, row-major: <c>C = alpha·op(A)·op(B) + beta·C</c>, with
/// op(A) M×K and op(B) K×N. The managed engine's dense layers are built on this one routine, so
/// its speed decides the large heads' speed.
/// </summary>
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
        // Reference implementation (correct, slow); a cache-blocked SIMD kernel replaces the body.
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0f;
                for (var p = 0; p < k; p++)
                {
                    var av = transA ? a[p * lda + i] : a[i * lda + p];
                    var bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                var idx = i * ldc + j;
                c[idx] = beta == 0f ? alpha * sum : alpha * sum + beta * c[idx];
            }
        }
    }
}
