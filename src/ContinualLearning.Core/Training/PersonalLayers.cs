using ContinualLearning.Tensors;

namespace ContinualLearning.Training;

/// <summary>
/// A head split into a shared body and personal top layers (FedPer, Arivazhagan et al. 2019: the last Linear layers
/// stay on the device, the rest is federated). The device trains the whole head, sends only the shared tensors, and
/// on a fleet release takes the release's shared tensors while keeping its personal ones. Pure.
/// </summary>
public static class PersonalLayers
{
    /// <summary>
    /// The tensor names of the last <paramref name="count"/> Linear layers of <paramref name="spec"/> (empty for 0).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="count"/> is negative or leaves no shared layer (a head of n Linear layers may keep at most n − 1).
    /// </exception>
    public static IReadOnlySet<string> TensorNames(HeadSpec spec, int count)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (count == 0) return new HashSet<string>(StringComparer.Ordinal);
        if (count < 0 || count >= spec.LinearCount)
            throw new ArgumentOutOfRangeException(nameof(count), count,
                $"{count} personal layers do not fit head {spec} ({spec.LinearCount} Linear layers): at least one layer must stay shared, " +
                $"so use 0–{spec.LinearCount - 1} (1 = the last layer, FedPer); a single-layer head cannot be personalised, give it a hidden layer.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var l = spec.LinearCount - count; l < spec.LinearCount; l++)
        {
            names.Add(HeadSpec.WeightName(l));
            names.Add(HeadSpec.BiasName(l));
        }
        return names;
    }

    /// <summary>The tensors not named in <paramref name="personal"/> (what a personalised device sends), in order.</summary>
    public static IReadOnlyList<NamedTensor> Shared(IReadOnlyList<NamedTensor> weights, IReadOnlySet<string> personal)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(personal);
        return personal.Count == 0 ? weights : [.. weights.Where(t => !personal.Contains(t.Name))];
    }

    /// <summary>
    /// The fleet's head with the device's personal layers put back: every shared tensor from <paramref name="fleet"/>,
    /// every personal tensor from <paramref name="own"/> where it fits. The output layer follows the fleet's label space:
    /// fleet row r takes own row <c>outputRows[r]</c>, or keeps the fleet's row when that is −1 (a class the device never
    /// had); without a map, rows are matched by index. A personal layer whose input width differs (the release changed a
    /// hidden width) cannot be carried and keeps the fleet's values, weight and bias together; <c>Kept</c> says whether
    /// every personal layer was carried.
    /// </summary>
    public static (IReadOnlyList<NamedTensor> Weights, bool Kept) Merge(HeadSpec spec, IReadOnlyList<NamedTensor> fleet, IReadOnlyList<NamedTensor> own,
        int count, IReadOnlyList<int>? outputRows = null)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(own);
        _ = TensorNames(spec, count);
        var ownByName = own.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var fleetByName = fleet.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var merged = fleet.Select(t => t.Clone()).ToArray();
        var mergedByName = merged.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var kept = true;
        for (var l = spec.LinearCount - count; l < spec.LinearCount; l++)
        {
            string weightName = HeadSpec.WeightName(l), biasName = HeadSpec.BiasName(l);
            // A layer moves as a whole: its weight decides whether it fits (a bias alone would fit a layer that does not).
            if (!ownByName.TryGetValue(weightName, out var ownWeight) || !ownByName.TryGetValue(biasName, out var ownBias)
                || ownWeight.Shape.Length != 2 || ownWeight.Shape[1] != fleetByName[weightName].Shape[1]
                || (l < spec.LinearCount - 1 && ownWeight.Shape[0] != fleetByName[weightName].Shape[0]))
            {
                kept = false;
                continue;
            }
            var rows = fleetByName[weightName].Shape[0];
            var width = ownWeight.Shape[1];
            for (var r = 0; r < rows; r++)
            {
                var source = l < spec.LinearCount - 1 || outputRows is null ? (r < ownWeight.Shape[0] ? r : -1) : outputRows[r];
                if (source < 0 || source >= ownWeight.Shape[0]) continue;
                Array.Copy(ownWeight.Data, source * width, mergedByName[weightName].Data, r * width, width);
                mergedByName[biasName].Data[r] = ownBias.Data[source];
            }
        }
        return (merged, kept);
    }
}
