using ContinualLearning.Tensors;

namespace ContinualLearning.Training.Internal;

/// <summary>
/// Where each parameter of a head lives inside one flat float array (state_dict order).
/// One flat array lets the optimiser and the EWC penalty run as a single SIMD pass over all parameters.
/// </summary>
internal sealed class ParameterLayout
{
    private readonly string[] _names;
    private readonly int[][] _shapes;
    private readonly int[] _offsets;
    private readonly int[] _counts;
    private readonly Dictionary<string, int> _indexByName;

    public ParameterLayout(HeadSpec spec)
    {
        Spec = spec;
        var parameters = spec.Parameters().ToArray();
        _names = new string[parameters.Length];
        _shapes = new int[parameters.Length][];
        _offsets = new int[parameters.Length];
        _counts = new int[parameters.Length];
        _indexByName = new Dictionary<string, int>(StringComparer.Ordinal);
        var offset = 0;
        for (var i = 0; i < parameters.Length; i++)
        {
            _names[i] = parameters[i].Name;
            _shapes[i] = parameters[i].Shape;
            _offsets[i] = offset;
            _counts[i] = parameters[i].Shape.Aggregate(1, (a, b) => checked(a * b));
            _indexByName[_names[i]] = i;
            offset = checked(offset + _counts[i]);
        }
        Total = offset;
    }

    public HeadSpec Spec { get; }

    /// <summary>Number of floats over all parameters.</summary>
    public int Total { get; }

    public int TensorCount => _names.Length;

    /// <summary>Offset of Linear layer <paramref name="linear"/>'s weight ([out, in], row-major).</summary>
    public int WeightOffset(int linear) => _offsets[2 * linear];

    /// <summary>Offset of Linear layer <paramref name="linear"/>'s bias ([out]).</summary>
    public int BiasOffset(int linear) => _offsets[2 * linear + 1];

    /// <summary>
    /// Copies <paramref name="tensors"/> into <paramref name="flat"/>, matching by name, after checking that the
    /// set of names and every shape match the spec and that all values are finite. Nothing is written unless all checks pass.
    /// <c>what</c> names the tensors in error messages ("weights", "EWC anchor", ...).
    /// </summary>
    public void Gather(IReadOnlyList<NamedTensor> tensors, Span<float> flat, string what)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (flat.Length < Total)
            throw new ArgumentException($"Destination holds {flat.Length} floats; {Total} needed.", nameof(flat));

        var seen = new bool[_names.Length];
        foreach (var t in tensors)
        {
            if (t is null)
                throw new ArgumentException($"The {what} list contains a null tensor.", nameof(tensors));
            if (!_indexByName.TryGetValue(t.Name, out var index))
                throw new ArgumentException(
                    $"The {what} contain tensor '{t.Name}', which head {Spec} does not have. Expected exactly: {Expected()}.", nameof(tensors));
            if (seen[index])
                throw new ArgumentException($"The {what} contain tensor '{t.Name}' twice.", nameof(tensors));
            seen[index] = true;
            if (!t.Shape.AsSpan().SequenceEqual(_shapes[index]))
                throw new ArgumentException(
                    $"The {what} tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}] but head {Spec} needs [{string.Join(", ", _shapes[index])}] (Linear weights are [out, in] as in PyTorch).",
                    nameof(tensors));
            for (var j = 0; j < t.Data.Length; j++)
            {
                if (!float.IsFinite(t.Data[j]))
                    throw new ArgumentException($"The {what} tensor '{t.Name}' holds a non-finite value ({t.Data[j]}) at flat index {j}.", nameof(tensors));
            }
        }
        for (var i = 0; i < seen.Length; i++)
        {
            if (!seen[i])
                throw new ArgumentException(
                    $"The {what} lack tensor '{_names[i]}' [{string.Join(", ", _shapes[i])}]; head {Spec} needs exactly: {Expected()}.", nameof(tensors));
        }
        foreach (var t in tensors)
        {
            var index = _indexByName[t.Name];
            t.Data.AsSpan().CopyTo(flat.Slice(_offsets[index], _counts[index]));
        }
    }

    /// <summary>Copies the flat array out as new tensors in state_dict order.</summary>
    public NamedTensor[] Scatter(ReadOnlySpan<float> flat)
    {
        var result = new NamedTensor[_names.Length];
        for (var i = 0; i < _names.Length; i++)
            result[i] = new NamedTensor(_names[i], (int[])_shapes[i].Clone(), flat.Slice(_offsets[i], _counts[i]).ToArray());
        return result;
    }

    private string Expected() =>
        string.Join(", ", _names.Select((n, i) => $"{n} [{string.Join(", ", _shapes[i])}]"));
}
