namespace ContinualLearning.Tensors;

/// <summary>
/// A named, dense, row-major float32 tensor: the unit of weight exchange between engines,
/// the bundle (safetensors) and the delta codec. Names follow PyTorch's <c>nn.Sequential</c>
/// state_dict ("0.weight", "0.bias", "2.weight", ...), so a PyTorch user can read and write them.
/// </summary>
public sealed class NamedTensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied), which must hold exactly the product of <paramref name="shape"/> values.</summary>
    public NamedTensor(string name, int[] shape, float[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Tensor '{name}': negative dimension {d} in shape [{string.Join(", ", shape)}].", nameof(shape));
            count *= d;
        }
        if (count != data.Length)
            throw new ArgumentException($"Tensor '{name}': shape [{string.Join(", ", shape)}] holds {count} values but {data.Length} were given.", nameof(data));
        Name = name;
        Shape = shape;
        Data = data;
    }

    /// <summary>State_dict name ("0.weight").</summary>
    public string Name { get; }

    /// <summary>Dimensions, outermost first. For a Linear weight: [out, in] as in PyTorch.</summary>
    public int[] Shape { get; }

    /// <summary>Values in row-major order. Mutable on purpose: engines copy in and out without allocating.</summary>
    public float[] Data { get; }

    /// <summary>Number of values.</summary>
    public int Count => Data.Length;

    /// <summary>A deep copy (shape and data).</summary>
    public NamedTensor Clone() => new(Name, (int[])Shape.Clone(), (float[])Data.Clone());

    /// <summary>Name and shape, for logs.</summary>
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
