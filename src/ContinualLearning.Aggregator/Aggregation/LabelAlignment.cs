using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Deltas;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>
/// A delta laid out on the release's head: <see cref="Global"/> in the release's parameter order (output rows moved to
/// the release's row of their label), and one row per class the release lacks (<see cref="NewRows"/>: the weight row
/// then the bias, a change against zero).
/// </summary>
internal sealed class AlignedUpdate(float[] global, Dictionary<string, float[]> newRows)
{
    public float[] Global { get; } = global;

    public Dictionary<string, float[]> NewRows { get; } = newRows;

    /// <summary>Adds <paramref name="other"/> (the next delta of the same device) to this one.</summary>
    public void Add(AlignedUpdate other)
    {
        for (var i = 0; i < Global.Length; i++) Global[i] += other.Global[i];
        foreach (var (label, row) in other.NewRows)
        {
            if (!NewRows.TryGetValue(label, out var sum)) NewRows[label] = (float[])row.Clone();
            else for (var i = 0; i < sum.Length; i++) sum[i] += row[i];
        }
    }

    /// <summary>Scales the whole update (new-class rows included) down to L2 norm <paramref name="max"/> when it is longer.</summary>
    public void ClipToNorm(double max)
    {
        AggregationMath.RequireClipNorm(max);
        var norm = AggregationMath.L2Norm(Global);
        if (NewRows.Count > 0)
            norm = Math.Sqrt(norm * norm + NewRows.Values.Sum(row => Math.Pow(AggregationMath.L2Norm(row), 2)));
        if (norm <= max) return;
        var scale = max / norm;
        for (var i = 0; i < Global.Length; i++) Global[i] = (float)(Global[i] * scale);
        foreach (var row in NewRows.Values)
            for (var i = 0; i < row.Length; i++) row[i] = (float)(row[i] * scale);
    }
}

/// <summary>
/// Aligns a delta's output rows to the release's by label name. A delta without labels has the rows of its base
/// release, whose labels are a prefix of every later release's (classes are only ever appended), so row r is the
/// release's row r. A delta with labels names each row: a row whose class is in the release and in the delta's base
/// is added to the release's row; a row whose class joined the release after the delta's base is a change against
/// zero, not against the release's row, and is left out (the device's next delta, against the new release, carries
/// it); a row whose class the release lacks becomes a new-class row.
/// </summary>
internal static class LabelAlignment
{
    /// <summary>The aligned delta, or null with <paramref name="problem"/> when its tensors do not fit the release's head.</summary>
    public static AlignedUpdate? Align(WeightDelta delta, IReadOnlyList<string>? baseLabels, OutputLayout layout, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(layout);
        problem = null;
        var global = new float[ParameterVector.Length(layout.Head)];
        var offsets = new Dictionary<string, (int[] Shape, int Offset)>(StringComparer.Ordinal);
        var offset = 0;
        foreach (var (name, shape) in layout.Head.Parameters())
        {
            offsets[name] = (shape, offset);
            offset += shape.Aggregate(1, (a, b) => a * b);
        }
        TensorDelta? weight = null, bias = null;
        foreach (var t in delta.Tensors)
        {
            if (!offsets.TryGetValue(t.Name, out var slot))
            {
                problem = $"tensor '{t.Name}' is not a parameter of head {layout.Head}.";
                return null;
            }
            if (layout.Labels is not null && t.Name == layout.WeightName) weight = t;
            else if (layout.Labels is not null && t.Name == layout.BiasName) bias = t;
            else if (!slot.Shape.AsSpan().SequenceEqual(t.Shape))
            {
                problem = $"tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}], head {layout.Head} needs [{string.Join(", ", slot.Shape)}].";
                return null;
            }
            else t.AddTo(global.AsSpan(slot.Offset, (int)t.ElementCount));
        }
        var newRows = new Dictionary<string, float[]>(StringComparer.Ordinal);
        if (weight is null && bias is null) return new AlignedUpdate(global, newRows);

        problem = OutputRows(weight, bias, layout, out var rows);
        var labels = delta.Header.Labels ?? (rows <= layout.Labels!.Count ? layout.Labels.Take(rows).ToArray() : null);
        problem ??= labels is null ? $"its output layer has {rows} rows, the release {layout.Labels!.Count}, and it names no labels."
            : labels.Count != rows ? $"its labels name {labels.Count} classes but its output layer has {rows} rows." : null;
        if (problem is not null) return null;

        var inBase = baseLabels is null ? null : new HashSet<string>(baseLabels, StringComparer.Ordinal);
        var w = weight?.ToDense().Data;
        var b = bias?.ToDense().Data;
        var hidden = layout.Hidden;
        for (var r = 0; r < rows; r++)
        {
            var label = labels![r];
            var target = layout.RowOf(label);
            if (target < 0)
            {
                var row = new float[hidden + 1];
                w?.AsSpan(r * hidden, hidden).CopyTo(row);
                row[hidden] = b?[r] ?? 0f;
                newRows[label] = row;
            }
            else if (inBase is null || inBase.Contains(label))
            {
                if (w is not null)
                    for (var i = 0; i < hidden; i++) global[layout.WeightOffset + target * hidden + i] += w[r * hidden + i];
                if (b is not null) global[layout.BiasOffset + target] += b[r];
            }
        }
        return new AlignedUpdate(global, newRows);
    }

    /// <summary>The output layer's row count from its weight ([rows, hidden]) and bias ([rows]), or what is wrong with them.</summary>
    internal static string? OutputRows(TensorDelta? weight, TensorDelta? bias, OutputLayout layout, out int rows)
    {
        rows = weight?.Shape is [var wr, _] ? wr : bias?.Shape is [var br] ? br : -1;
        if (weight is not null && (weight.Shape.Length != 2 || weight.Shape[1] != layout.Hidden))
            return $"tensor '{weight.Name}' has shape [{string.Join(", ", weight.Shape)}]; the output layer needs [rows, {layout.Hidden}].";
        if (bias is not null && (bias.Shape.Length != 1 || bias.Shape[0] != rows))
            return $"tensor '{bias.Name}' has shape [{string.Join(", ", bias.Shape)}] but the output weight has {rows} rows.";
        return null;
    }
}
