namespace ContinualLearning.Replay;

/// <summary>What a <see cref="SampleLabel"/> holds.</summary>
public enum SampleLabelKind
{
    /// <summary>No label (the default value).</summary>
    None = 0,
    /// <summary>A class index (classification).</summary>
    Class = 1,
    /// <summary>Real values (regression, or per-output 0/1 targets for multi-label binary cross-entropy).</summary>
    Values = 2,
}

/// <summary>
/// The label of one sample: a class index or a vector of real values. <c>default</c> is "no label".
/// Immutable: a values label owns a private copy of its values.
/// </summary>
public readonly struct SampleLabel : IEquatable<SampleLabel>
{
    private readonly float[]? _values;

    private SampleLabel(SampleLabelKind kind, int classIndex, float[]? values)
    {
        Kind = kind;
        ClassIndex = classIndex;
        _values = values;
    }

    /// <summary>
    /// A class label (0-based index into the model's label set). Any int is representable on purpose:
    /// the store, which knows the label count, reports an out-of-range index with an actionable message.
    /// </summary>
    public static SampleLabel Class(int index) => new(SampleLabelKind.Class, index, null);

    /// <summary>A real-valued label; the values are copied.</summary>
    public static SampleLabel FromValues(ReadOnlySpan<float> values) => new(SampleLabelKind.Values, -1, values.ToArray());

    /// <summary>Whether this is a class label, a values label, or no label.</summary>
    public SampleLabelKind Kind { get; }

    /// <summary>The class index of a class label; -1 otherwise.</summary>
    public int ClassIndex { get; }

    /// <summary>The values of a values label; empty otherwise.</summary>
    public ReadOnlySpan<float> Values => _values;

    /// <summary>Same kind and the same class index or values.</summary>
    public bool Equals(SampleLabel other) => Kind == other.Kind && Kind switch
    {
        SampleLabelKind.Class => ClassIndex == other.ClassIndex,
        SampleLabelKind.Values => Values.SequenceEqual(other.Values),
        _ => true,
    };

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SampleLabel other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, ClassIndex, _values?.Length ?? 0);

    /// <summary>Same kind and the same class index or values.</summary>
    public static bool operator ==(SampleLabel left, SampleLabel right) => left.Equals(right);

    /// <summary>Different kind, class index or values.</summary>
    public static bool operator !=(SampleLabel left, SampleLabel right) => !left.Equals(right);

    /// <summary>"class 3", "values [0.5, 1]" or "(no label)", for logs.</summary>
    public override string ToString() => Kind switch
    {
        SampleLabelKind.Class => $"class {ClassIndex}",
        SampleLabelKind.Values => $"values [{string.Join(", ", _values!)}]",
        _ => "(no label)",
    };
}
