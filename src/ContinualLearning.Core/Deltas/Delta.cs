using ContinualLearning.Tensors;

namespace ContinualLearning.Deltas;

/// <summary>Pure helpers for dense weight deltas: difference, application, norm.</summary>
public static class Delta
{
    /// <summary>
    /// challenger − base, per tensor, in the challenger's order. Both sides must hold the same tensor names with the same shapes.
    /// </summary>
    public static IReadOnlyList<NamedTensor> Compute(IReadOnlyList<NamedTensor> challenger, IReadOnlyList<NamedTensor> baseWeights)
    {
        ArgumentNullException.ThrowIfNull(challenger);
        ArgumentNullException.ThrowIfNull(baseWeights);
        var byName = IndexByName(baseWeights, nameof(baseWeights));
        if (challenger.Count != byName.Count)
            throw new ArgumentException($"The challenger has {challenger.Count} tensors but the base has {byName.Count}; both must come from the same head spec.", nameof(challenger));
        var result = new NamedTensor[challenger.Count];
        for (var t = 0; t < challenger.Count; t++)
        {
            var c = challenger[t];
            if (!byName.TryGetValue(c.Name, out var b))
                throw new ArgumentException($"Tensor '{c.Name}' is in the challenger but not in the base (base has: {string.Join(", ", byName.Keys)}).", nameof(challenger));
            RequireSameShape(c, b);
            var d = new float[c.Count];
            var cd = c.Data;
            var bd = b.Data;
            for (var i = 0; i < d.Length; i++) d[i] = cd[i] - bd[i];
            result[t] = new NamedTensor(c.Name, (int[])c.Shape.Clone(), d);
        }
        return result;
    }

    /// <summary>New weights = base + <paramref name="scale"/> × delta. Tensors the delta does not mention are copied unchanged.</summary>
    public static IReadOnlyList<NamedTensor> Apply(IReadOnlyList<NamedTensor> baseWeights, WeightDelta delta, float scale = 1f)
    {
        ArgumentNullException.ThrowIfNull(baseWeights);
        ArgumentNullException.ThrowIfNull(delta);
        var result = baseWeights.Select(t => t.Clone()).ToArray();
        var byName = IndexByName(result, nameof(baseWeights));
        foreach (var td in delta.Tensors)
        {
            if (!byName.TryGetValue(td.Name, out var target))
                throw new ArgumentException($"The delta changes tensor '{td.Name}', which the base weights do not have.", nameof(delta));
            if (!target.Shape.AsSpan().SequenceEqual(td.Shape))
                throw new ArgumentException($"Tensor '{td.Name}': delta shape [{string.Join(", ", td.Shape)}] differs from base shape [{string.Join(", ", target.Shape)}].", nameof(delta));
            td.AddTo(target.Data, scale);
        }
        return result;
    }

    /// <summary>New weights = base + <paramref name="scale"/> × delta for dense deltas (same names and shapes).</summary>
    public static IReadOnlyList<NamedTensor> Apply(IReadOnlyList<NamedTensor> baseWeights, IReadOnlyList<NamedTensor> delta, float scale = 1f)
    {
        ArgumentNullException.ThrowIfNull(baseWeights);
        ArgumentNullException.ThrowIfNull(delta);
        var result = baseWeights.Select(t => t.Clone()).ToArray();
        var byName = IndexByName(result, nameof(baseWeights));
        foreach (var d in delta)
        {
            if (!byName.TryGetValue(d.Name, out var target))
                throw new ArgumentException($"The delta changes tensor '{d.Name}', which the base weights do not have.", nameof(delta));
            RequireSameShape(d, target);
            var td = target.Data;
            var dd = d.Data;
            for (var i = 0; i < td.Length; i++) td[i] += scale * dd[i];
        }
        return result;
    }

    /// <summary>Euclidean norm over all elements of all tensors (accumulated in double).</summary>
    public static double L2Norm(IEnumerable<NamedTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        double sum = 0;
        foreach (var t in tensors) sum += SumOfSquares(t.Data);
        return Math.Sqrt(sum);
    }

    /// <summary>Euclidean norm of a (sparse) delta; unsent elements count as zero.</summary>
    public static double L2Norm(WeightDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        double sum = 0;
        foreach (var t in delta.Tensors) sum += SumOfSquares(t.Values);
        return Math.Sqrt(sum);
    }

    internal static double SumOfSquares(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (var v in values) sum += (double)v * v;
        return sum;
    }

    private static Dictionary<string, NamedTensor> IndexByName(IReadOnlyList<NamedTensor> tensors, string paramName)
    {
        var byName = new Dictionary<string, NamedTensor>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors)
            if (!byName.TryAdd(t.Name, t))
                throw new ArgumentException($"Tensor name '{t.Name}' appears twice.", paramName);
        return byName;
    }

    private static void RequireSameShape(NamedTensor a, NamedTensor b)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"Tensor '{a.Name}': shape [{string.Join(", ", a.Shape)}] differs from [{string.Join(", ", b.Shape)}].");
    }
}
