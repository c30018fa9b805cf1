using ContinualLearning.Tensors;

namespace ContinualLearning.Deltas;

/// <summary>
/// Who sent a delta, against which global version, and how much data it stands for.
/// The aggregator uses <see cref="DeltaId"/> for idempotence and <see cref="BaseVersion"/> for staleness.
/// </summary>
/// <param name="ModelName">Model (bundle) name the delta applies to.</param>
/// <param name="BaseVersion">Global version (the manifest's semantic version, e.g. "1.3.0") the device trained from; the delta is relative to it.</param>
/// <param name="DeviceId">Sending device.</param>
/// <param name="DeltaId">Unique per delta; a re-sent delta keeps its id so duplicates can be dropped.</param>
/// <param name="SampleCount">Samples the device trained on; the aggregation weight.</param>
/// <param name="Metrics">Small map of device-side metrics (e.g. "accuracy", "loss").</param>
/// <param name="CreatedAt">When the device produced the delta (millisecond precision on the wire).</param>
/// <param name="Labels">
/// Class-incremental heads: the device's label names in output-row order when they differ from the base release's
/// (the device learned classes the release lacks); null when the device uses the release's labels unchanged.
/// The aggregator aligns output rows by label name.
/// </param>
public sealed record DeltaHeader(
    string ModelName,
    string BaseVersion,
    string DeviceId,
    Guid DeltaId,
    long SampleCount,
    IReadOnlyDictionary<string, double> Metrics,
    DateTimeOffset CreatedAt,
    IReadOnlyList<string>? Labels = null);

/// <summary>
/// The (possibly sparse) change of one tensor. <see cref="Values"/> hold exactly the values the wire carries
/// after dequantisation, so <c>Decode(Encode(d))</c> reproduces them bit for bit.
/// </summary>
public sealed class TensorDelta
{
    /// <summary>Creates a tensor delta; <paramref name="indices"/> null means dense (one value per element).</summary>
    public TensorDelta(string name, int[] shape, DeltaEncoding encoding, float scale, int[]? indices, float[] values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(values);
        long elements = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Tensor delta '{name}': negative dimension {d}.", nameof(shape));
            elements *= d;
        }
        if (indices is null && values.Length != elements)
            throw new ArgumentException($"Tensor delta '{name}': dense delta needs {elements} values, got {values.Length}.", nameof(values));
        if (indices is not null && indices.Length != values.Length)
            throw new ArgumentException($"Tensor delta '{name}': {indices.Length} indices but {values.Length} values.", nameof(indices));
        Name = name;
        Shape = shape;
        Encoding = encoding;
        Scale = scale;
        Indices = indices;
        Values = values;
        ElementCount = elements;
    }

    /// <summary>Tensor name as in the model's state_dict ("0.weight").</summary>
    public string Name { get; }

    /// <summary>Shape of the whole tensor (not of the values carried).</summary>
    public int[] Shape { get; }

    /// <summary>How the values travel on the wire.</summary>
    public DeltaEncoding Encoding { get; }

    /// <summary>Quantisation scale: value = stored × scale (1 for fp32).</summary>
    public float Scale { get; }

    /// <summary>Strictly increasing flat indices of <see cref="Values"/>, or null for a dense delta.</summary>
    public int[]? Indices { get; }

    /// <summary>Dequantised values, one per index (or per element when dense).</summary>
    public float[] Values { get; }

    /// <summary>Elements of the whole tensor (product of <see cref="Shape"/>).</summary>
    public long ElementCount { get; }

    /// <summary>Dense when <see cref="Indices"/> is null, else sparse.</summary>
    public DeltaLayout Layout => Indices is null ? DeltaLayout.Dense : DeltaLayout.Sparse;

    /// <summary>Number of values carried.</summary>
    public int Count => Values.Length;

    /// <summary>Adds <paramref name="factor"/> × this delta to <paramref name="target"/> (row-major, same element count).</summary>
    public void AddTo(Span<float> target, float factor = 1f)
    {
        if (target.Length != ElementCount)
            throw new ArgumentException($"Tensor delta '{Name}' has {ElementCount} elements; the target has {target.Length}.", nameof(target));
        if (Indices is null)
        {
            for (var i = 0; i < Values.Length; i++) target[i] += factor * Values[i];
            return;
        }
        for (var i = 0; i < Indices.Length; i++) target[Indices[i]] += factor * Values[i];
    }

    /// <summary>The delta as a dense tensor (zeros where nothing was sent).</summary>
    public NamedTensor ToDense()
    {
        var data = new float[ElementCount];
        AddTo(data);
        return new NamedTensor(Name, (int[])Shape.Clone(), data);
    }

    /// <summary>Name, shape, encoding, layout and values carried / elements, for logs.</summary>
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}] {Encoding} {Layout} {Count}/{ElementCount}";
}

/// <summary>A compressed model delta: header plus one <see cref="TensorDelta"/> per tensor, in state_dict order.</summary>
public sealed record WeightDelta(DeltaHeader Header, IReadOnlyList<TensorDelta> Tensors)
{
    /// <summary>Total values carried (sum over tensors).</summary>
    public long ValueCount => Tensors.Sum(t => (long)t.Count);

    /// <summary>Total elements of the model the delta covers.</summary>
    public long ElementCount => Tensors.Sum(t => t.ElementCount);

    /// <summary>The delta as dense tensors.</summary>
    public IReadOnlyList<NamedTensor> ToDense() => Tensors.Select(t => t.ToDense()).ToArray();
}
