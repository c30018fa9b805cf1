namespace ContinualLearning.Features;

/// <summary>
/// Label name ↔ class index, in the manifest's label order. The index is also the training target:
/// the class index for softmax cross-entropy, and 0/1 for a single-output binary cross-entropy head
/// (whose output is P(label 1)).
/// </summary>
public sealed class LabelMap
{
    private readonly string[] _names;
    private readonly Dictionary<string, int> _indexByName;

    /// <summary>Maps <paramref name="labelNames"/> (at least two, unique, case-sensitive) to indices 0, 1, ….</summary>
    public LabelMap(IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(labelNames);
        if (labelNames.Count < 2)
            throw new ArgumentException($"A classifier needs at least 2 labels; got {labelNames.Count}.", nameof(labelNames));
        _names = labelNames.ToArray();
        _indexByName = new Dictionary<string, int>(_names.Length, StringComparer.Ordinal);
        for (var i = 0; i < _names.Length; i++)
            if (!_indexByName.TryAdd(_names[i], i))
                throw new ArgumentException($"Label '{_names[i]}' appears twice; labels must be unique.", nameof(labelNames));
    }

    /// <summary>Number of labels.</summary>
    public int Count => _names.Length;

    /// <summary>Label names in index order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The index of a label.</summary>
    /// <exception cref="ArgumentException">The label is unknown; the message lists the known ones.</exception>
    public int IndexOf(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (_indexByName.TryGetValue(label, out var index)) return index;
        throw new ArgumentException(
            $"Unknown label '{ContinualLearning.Text.DisplayText.Truncate(label)}'; the model knows: {string.Join(", ", _names.Select(n => $"'{n}'"))} (case-sensitive). " +
            "A new class needs a new model version with a larger head.", nameof(label));
    }

    /// <summary>The index of a label; false when the label is unknown.</summary>
    public bool TryGetIndex(string label, out int index) => _indexByName.TryGetValue(label, out index);

    /// <summary>The label at an index.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside [0, Count).</exception>
    public string NameOf(int index)
    {
        if ((uint)index >= (uint)_names.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Class index {index} is outside [0, {_names.Length}); labels: {string.Join(", ", _names)}.");
        return _names[index];
    }
}
