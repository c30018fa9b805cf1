using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Strategies;

namespace ContinualLearning.Aggregator.Optimizers;

/// <summary>
/// Flattened vectors (weights, Δ, optimiser moments) of a head whose output layer grows by admitted classes: the rows
/// go where <see cref="ClassAdmission.Append"/> puts them (the end of the output weight and of the output bias), so the
/// vector, its optimiser state and the grown release line up element for element.
/// </summary>
internal static class HeadRows
{
    /// <summary><paramref name="vector"/> (laid out as <paramref name="layout"/>) with <paramref name="rows"/> appended, laid out as <paramref name="grown"/>.</summary>
    public static float[] Append(float[] vector, OutputLayout layout, OutputLayout grown, IReadOnlyList<float[]> rows)
    {
        ArgumentNullException.ThrowIfNull(vector);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(grown);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) return vector;
        return ParameterVector.Flatten(ClassAdmission.Append(ParameterVector.Unflatten(vector, layout.Head), layout, rows, 1.0), grown.Head);
    }

    /// <summary><paramref name="vector"/> with <paramref name="added"/> output rows of zeros.</summary>
    public static float[] AppendZeros(float[] vector, OutputLayout layout, OutputLayout grown, int added) =>
        Append(vector, layout, grown, Enumerable.Range(0, added).Select(_ => new float[layout.Hidden + 1]).ToArray());

    /// <summary>
    /// The state of the release's head carried onto the grown head: zeros for the new rows (no history yet). A state of
    /// another length (not this head's) is returned as is; the optimiser then starts from zeros.
    /// </summary>
    public static ServerOptimizerState? Grow(ServerOptimizerState? state, OutputLayout layout, OutputLayout grown, int added)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (state is null || added == 0 || state.Length != ParameterVector.Length(layout.Head)) return state;
        return state with
        {
            Momentum = AppendZeros(state.Momentum, layout, grown, added),
            SecondMoment = state.SecondMoment is { } v ? AppendZeros(v, layout, grown, added) : null,
        };
    }
}
