using ContinualLearning.Deltas;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Strategies;

/// <summary>Flattens head tensors and deltas to one vector in state_dict order (<see cref="HeadSpec.Parameters"/>) and back.</summary>
public static class ParameterVector
{
    public static int Length(HeadSpec spec) => spec.Parameters().Sum(p => p.Shape.Aggregate(1, (a, b) => a * b));

    /// <summary>A (possibly sparse) delta as a dense vector; unsent elements are zero. Shapes must match the spec.</summary>
    public static float[] Flatten(WeightDelta delta, HeadSpec spec)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var byName = delta.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var result = new float[Length(spec)];
        var offset = 0;
        foreach (var (name, shape) in spec.Parameters())
        {
            var count = shape.Aggregate(1, (a, b) => a * b);
            if (byName.TryGetValue(name, out var t)) t.AddTo(result.AsSpan(offset, count));
            offset += count;
        }
        return result;
    }

    public static float[] Flatten(IReadOnlyList<NamedTensor> tensors, HeadSpec spec)
    {
        var byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var result = new float[Length(spec)];
        var offset = 0;
        foreach (var (name, shape) in spec.Parameters())
        {
            if (!byName.TryGetValue(name, out var t))
                throw new ArgumentException($"Tensor '{name}' required by head {spec} is missing.", nameof(tensors));
            t.Data.CopyTo(result, offset);
            offset += t.Count;
        }
        return result;
    }

    public static IReadOnlyList<NamedTensor> Unflatten(float[] values, HeadSpec spec)
    {
        if (values.Length != Length(spec))
            throw new ArgumentException($"Vector has {values.Length} values; head {spec} has {Length(spec)} parameters.", nameof(values));
        var result = new List<NamedTensor>();
        var offset = 0;
        foreach (var (name, shape) in spec.Parameters())
        {
            var count = shape.Aggregate(1, (a, b) => a * b);
            result.Add(new NamedTensor(name, shape, values.AsSpan(offset, count).ToArray()));
            offset += count;
        }
        return result;
    }
}
