using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Deltas;
using ContinualLearning.Text;

namespace ContinualLearning.Aggregator.Validation;

/// <summary>
/// A delta's tensors and labels against the head and labels of its base release. Without labels every tensor has the
/// head's shape. With labels (a class-incremental device): the model is a softmax classifier, every class of the base
/// release is named exactly once (a device keeps its release's classes), at most
/// <see cref="ValidationOptions.MaxNewClasses"/> classes are added, the output layer has one row per label and every
/// other tensor has the head's shape.
/// </summary>
internal static class LabelRules
{
    public static (RejectionReason Reason, string Problem)? Check(WeightDelta delta, OutputLayout layout, int maxNewClasses)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(layout);
        var head = layout.Head;
        var labels = delta.Header.Labels;
        if (labels is not null)
        {
            if (layout.Labels is null)
                return (RejectionReason.LabelMismatch, $"it names {labels.Count} labels but head {head} does not classify with one output per label; send no labels.");
            var named = new HashSet<string>(StringComparer.Ordinal);
            foreach (var label in labels)
                if (!named.Add(label))
                    return (RejectionReason.LabelMismatch, $"label '{DisplayText.Truncate(label, DeltaLabels.MaxNameBytes)}' appears twice; each output row needs its own class.");
            var dropped = layout.Labels.Where(l => !named.Contains(l)).ToArray();
            if (dropped.Length > 0)
                return (RejectionReason.LabelMismatch,
                    $"it drops class '{DisplayText.Truncate(dropped[0], DeltaLabels.MaxNameBytes)}' of its base release ({dropped.Length} missing of {layout.Labels.Count}); a device keeps every class of its release.");
            var added = labels.Count - layout.Labels.Count;
            if (added > maxNewClasses)
                return (RejectionReason.TooManyNewClasses, $"it adds {added} classes to its base release's {layout.Labels.Count}; at most {maxNewClasses} are accepted (Validation.MaxNewClasses).");
        }
        var expected = head.Parameters().ToDictionary(p => p.Name, p => p.Shape, StringComparer.Ordinal);
        TensorDelta? weight = null, bias = null;
        foreach (var t in delta.Tensors)
        {
            if (!expected.TryGetValue(t.Name, out var shape))
                return (RejectionReason.ShapeMismatch, $"tensor '{t.Name}' is not a parameter of head {head} (expected {string.Join(", ", expected.Keys)}).");
            if (labels is not null && t.Name == layout.WeightName) weight = t;
            else if (labels is not null && t.Name == layout.BiasName) bias = t;
            else if (!shape.AsSpan().SequenceEqual(t.Shape))
                return (RejectionReason.ShapeMismatch, $"tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], head {head} needs [{string.Join(", ", shape)}].");
        }
        if (weight is null && bias is null) return null;
        var problem = LabelAlignment.OutputRows(weight, bias, layout, out var rows);
        if (problem is not null) return (RejectionReason.LabelMismatch, problem);
        return rows == labels!.Count ? null
            : (RejectionReason.LabelMismatch, $"its labels name {labels.Count} classes but its output layer has {rows} rows; send one row per label.");
    }
}
