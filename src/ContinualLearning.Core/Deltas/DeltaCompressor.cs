using ContinualLearning.Tensors;

namespace ContinualLearning.Deltas;

/// <summary>How to compress a delta: the fraction of each tensor's elements to send, and the value encoding.</summary>
/// <param name="Fraction">Top-k fraction per tensor in (0, 1]; at least one element per tensor is sent. 1 means dense (no indices).</param>
/// <param name="Encoding">Value encoding.</param>
public sealed record DeltaCompressionOptions(double Fraction = 0.01, DeltaEncoding Encoding = DeltaEncoding.Int8)
{
    /// <summary>Dense 8-bit: every element, quantised.</summary>
    public static DeltaCompressionOptions DenseInt8 { get; } = new(1.0, DeltaEncoding.Int8);

    /// <summary>Dense fp32: lossless, the uncompressed reference.</summary>
    public static DeltaCompressionOptions DenseFloat32 { get; } = new(1.0, DeltaEncoding.Float32);

    /// <summary>True when every element is sent (<see cref="Fraction"/> ≥ 1), so the wire carries no indices.</summary>
    public bool IsDense => Fraction >= 1.0;

    internal void Validate()
    {
        if (!(Fraction > 0 && Fraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(Fraction), Fraction, "The top-k fraction must be in (0, 1], e.g. 0.01 for 1%.");
        if (!Enum.IsDefined(Encoding))
            throw new ArgumentOutOfRangeException(nameof(Encoding), Encoding, "Unknown delta encoding; use Int8, Float16 or Float32.");
    }
}

/// <summary>
/// Top-k sparsification and quantisation of a dense delta (pure; no state). For the stateful variant that keeps
/// the unsent part for the next round, use <see cref="ErrorFeedback"/>.
/// </summary>
public static class DeltaCompressor
{
    /// <summary>Elements to send for a tensor of <paramref name="elements"/> at <paramref name="fraction"/>: ⌈fraction·n⌉, at least 1.</summary>
    public static int TopKCount(int elements, double fraction)
    {
        if (elements == 0) return 0;
        if (fraction >= 1) return elements;
        // The small epsilon keeps 0.01 × 100 (= 1.0000000000000002 in binary) at 1 instead of 2.
        var k = (long)Math.Ceiling(fraction * elements - 1e-9);
        return (int)Math.Clamp(k, 1, elements);
    }

    /// <summary>Compresses every tensor of a dense delta.</summary>
    public static IReadOnlyList<TensorDelta> Compress(IReadOnlyList<NamedTensor> delta, DeltaCompressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return delta.Select(t => CompressTensor(t.Name, t.Shape, t.Data, options)).ToArray();
    }

    /// <summary>
    /// Top-k of <paramref name="values"/> by |value| (ties broken by lower index), then quantised.
    /// The returned values are the dequantised ones, i.e. exactly what a receiver decodes.
    /// </summary>
    public static TensorDelta CompressTensor(string name, int[] shape, ReadOnlySpan<float> values, DeltaCompressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        for (var i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"Tensor '{name}': element {i} is {values[i]}; a delta must be finite (check the training run for divergence).", nameof(values));

        int[]? indices;
        float[] selected;
        if (options.IsDense)
        {
            indices = null;
            selected = values.ToArray();
        }
        else
        {
            indices = SelectTopK(values, TopKCount(values.Length, options.Fraction));
            selected = new float[indices.Length];
            for (var i = 0; i < indices.Length; i++) selected[i] = values[indices[i]];
        }

        var scale = Quantize(selected, options.Encoding);
        return new TensorDelta(name, (int[])shape.Clone(), options.Encoding, scale, indices, selected);
    }

    /// <summary>Indices (ascending) of the k elements with the largest |value|.</summary>
    internal static int[] SelectTopK(ReadOnlySpan<float> values, int k)
    {
        var n = values.Length;
        if (k >= n)
        {
            var all = new int[n];
            for (var i = 0; i < n; i++) all[i] = i;
            return all;
        }
        if (k <= 0) return [];

        var abs = new float[n];
        for (var i = 0; i < n; i++) abs[i] = MathF.Abs(values[i]);
        // Threshold = k-th largest magnitude, found in O(n) expected time instead of sorting.
        var threshold = QuickSelect(abs, n - k);

        var greater = 0;
        for (var i = 0; i < n; i++)
            if (MathF.Abs(values[i]) > threshold) greater++;
        var tiesAllowed = k - greater;

        var result = new int[k];
        var r = 0;
        for (var i = 0; i < n && r < k; i++)
        {
            var a = MathF.Abs(values[i]);
            if (a > threshold) result[r++] = i;
            else if (a == threshold && tiesAllowed > 0)
            {
                result[r++] = i;
                tiesAllowed--;
            }
        }
        return result;
    }

    /// <summary>The <paramref name="kth"/> smallest (0-based) element; reorders <paramref name="a"/>. Hoare partition copes with many equal values (e.g. zeros).</summary>
    private static float QuickSelect(float[] a, int kth)
    {
        int lo = 0, hi = a.Length - 1;
        while (lo < hi)
        {
            var x = a[lo];
            var y = a[lo + ((hi - lo) >> 1)];
            var z = a[hi];
            var pivot = Math.Max(Math.Min(x, y), Math.Min(Math.Max(x, y), z));
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }
            if (kth <= j) hi = j;
            else if (kth >= i) lo = i;
            else return a[kth];
        }
        return a[kth];
    }

    /// <summary>Replaces <paramref name="values"/> by their quantised-then-dequantised form and returns the scale.</summary>
    internal static float Quantize(Span<float> values, DeltaEncoding encoding)
    {
        float maxAbs = 0;
        foreach (var v in values) maxAbs = MathF.Max(maxAbs, MathF.Abs(v));
        switch (encoding)
        {
            case DeltaEncoding.Int8:
            {
                var scale = maxAbs / 127f;
                if (scale == 0 || !float.IsNormal(scale))
                {
                    // Nothing representable (all zero or below float's normal range): send zeros with scale 0.
                    values.Clear();
                    return 0f;
                }
                for (var i = 0; i < values.Length; i++) values[i] = QuantizeInt8(values[i], scale) * scale;
                return scale;
            }
            case DeltaEncoding.Float16:
            {
                var scale = Float16Scale(maxAbs);
                for (var i = 0; i < values.Length; i++) values[i] = (float)(Half)(values[i] / scale) * scale;
                return scale;
            }
            case DeltaEncoding.Float32:
                return 1f;
            default:
                throw new ArgumentOutOfRangeException(nameof(encoding), encoding, "Unknown delta encoding.");
        }
    }

    internal static sbyte QuantizeInt8(float value, float scale) =>
        scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(value / scale, MidpointRounding.ToEven), -127f, 127f);

    /// <summary>
    /// A power of two just above max|v|: dividing by it is exact, so fp16 keeps its full relative precision
    /// and small deltas (1e-5 and below) do not fall into fp16's subnormal range.
    /// </summary>
    internal static float Float16Scale(float maxAbs)
    {
        if (maxAbs == 0 || !float.IsNormal(maxAbs)) return 1f;
        var e = MathF.ILogB(maxAbs) + 1;
        return MathF.ScaleB(1f, Math.Min(e, 127));
    }
}
