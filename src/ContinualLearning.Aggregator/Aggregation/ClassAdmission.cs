using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Tensors;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>A class new to the fleet that devices contributed in a round, and whether it entered the release.</summary>
/// <param name="Label">The class name.</param>
/// <param name="Devices">Distinct devices whose update carried it.</param>
/// <param name="Admitted">True when it met <see cref="AggregationOptions.NewClassMinDevices"/> and was appended to the head.</param>
internal sealed record NewClass(string Label, int Devices, bool Admitted);

/// <summary>
/// Which classes new to the fleet enter the release, and their rows. A class is admitted when at least
/// max(<see cref="AggregationOptions.NewClassMinDevices"/>, <see cref="AggregationOptions.MinDevices"/>) distinct devices
/// contributed it in the round: one device alone could otherwise push a class of its own making onto every device. Its
/// rows are the strategy's aggregate over the contributing devices only (a device without the class is no vote for a
/// zero row), with the same weights and the same per-device clipping as the rest of the update, and are appended in
/// ordinal order of the names so that the release is the same whatever order the deltas came in.
/// </summary>
internal static class ClassAdmission
{
    public static int MinDevices(AggregationOptions aggregation) => Math.Max(aggregation.NewClassMinDevices, aggregation.MinDevices);

    /// <summary>Every new class of the round (admitted or not, by name) and the aggregated rows of the admitted ones.</summary>
    public static (IReadOnlyList<NewClass> Classes, IReadOnlyList<float[]> Rows) Decide(
        IReadOnlyList<(AlignedUpdate Update, double Weight)> devices, IAggregationStrategy strategy, AggregationOptions aggregation)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(strategy);
        var min = MinDevices(aggregation);
        var classes = new List<NewClass>();
        var rows = new List<float[]>();
        var labels = devices.SelectMany(d => d.Update.NewRows.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            var contributions = devices.Where(d => d.Update.NewRows.ContainsKey(label))
                .Select(d => new WeightedUpdate(d.Update.NewRows[label], d.Weight)).ToArray();
            var admitted = contributions.Length >= min;
            classes.Add(new NewClass(label, contributions.Length, admitted));
            if (admitted) rows.Add(strategy.Aggregate(contributions));
        }
        return (classes, rows);
    }

    /// <summary>
    /// <paramref name="weights"/> (laid out as <paramref name="layout"/>) with one output row per admitted class appended:
    /// zero plus η times its aggregated row, as every other parameter is the release plus η times the aggregate.
    /// </summary>
    public static IReadOnlyList<NamedTensor> Append(IReadOnlyList<NamedTensor> weights, OutputLayout layout, IReadOnlyList<float[]> rows, double serverLearningRate)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) return weights;
        var hidden = layout.Hidden;
        var outputs = layout.Head.OutputSize + rows.Count;
        return weights.Select(t =>
        {
            if (t.Name == layout.WeightName)
            {
                var data = new float[outputs * hidden];
                t.Data.CopyTo(data, 0);
                for (var r = 0; r < rows.Count; r++)
                    for (var i = 0; i < hidden; i++) data[t.Data.Length + r * hidden + i] = (float)(serverLearningRate * rows[r][i]);
                return new NamedTensor(t.Name, [outputs, hidden], data);
            }
            if (t.Name == layout.BiasName)
            {
                var data = new float[outputs];
                t.Data.CopyTo(data, 0);
                for (var r = 0; r < rows.Count; r++) data[t.Data.Length + r] = (float)(serverLearningRate * rows[r][hidden]);
                return new NamedTensor(t.Name, [outputs], data);
            }
            return t;
        }).ToArray();
    }
}
