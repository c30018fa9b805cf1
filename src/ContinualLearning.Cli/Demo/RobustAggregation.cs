using ContinualLearning.Tensors;

namespace ContinualLearning.Cli.Demo;

/// <summary>One buffered, validated delta ready for aggregation.</summary>
/// <param name="DeviceId">Sender (for the event log).</param>
/// <param name="Dense">The delta as dense tensors (zeros where the device sent nothing).</param>
/// <param name="Weight">Sample count × staleness discount.</param>
internal sealed record AggregationInput(string DeviceId, IReadOnlyList<NamedTensor> Dense, double Weight);

/// <summary>Result of <see cref="RobustAggregation.Aggregate"/>: the update to add to the global model, and who was left out.</summary>
internal sealed record AggregationResult(IReadOnlyList<NamedTensor>? Update, IReadOnlyList<int> Filtered, IReadOnlyList<int> Kept);

/// <summary>
/// Robust FedAvg for sparse deltas (pure functions). Coordinate-wise median or trimmed mean do not work on top-k
/// sparse deltas — most coordinates are sent by one device only, so a median is zero almost everywhere — so the
/// defence works on whole directions instead:
/// 1. direction filter: a delta whose cosine with the sum of the other deltas' unit vectors is negative is left
///    out (a sign-flipped delta points against the honest majority; unit vectors so an amplified attacker cannot
///    dominate the reference);
/// 2. norm clipping to a multiple of the median norm of what is left;
/// 3. weighted mean (sample count × staleness discount).
/// With fewer than three deltas there is no majority to compare against; the canary rollout is the defence then.
/// </summary>
internal static class RobustAggregation
{
    public static AggregationResult Aggregate(IReadOnlyList<AggregationInput> inputs, double clipFactor = 2.0)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count == 0) return new AggregationResult(null, [], []);
        var flat = inputs.Select(i => Flatten(i.Dense)).ToArray();
        var norms = flat.Select(Norm).ToArray();

        var kept = new List<int>();
        var filtered = new List<int>();
        if (inputs.Count >= 3)
        {
            var length = flat[0].Length;
            var unitSum = new double[length];
            for (var i = 0; i < flat.Length; i++)
                if (norms[i] > 0)
                    for (var k = 0; k < length; k++) unitSum[k] += flat[i][k] / norms[i];
            for (var i = 0; i < flat.Length; i++)
            {
                if (norms[i] == 0)
                {
                    filtered.Add(i);
                    continue;
                }
                // Reference = the others' unit vectors: unitSum minus this one's own contribution.
                double dot = 0, refNorm2 = 0;
                for (var k = 0; k < length; k++)
                {
                    var reference = unitSum[k] - flat[i][k] / norms[i];
                    dot += flat[i][k] * reference;
                    refNorm2 += reference * reference;
                }
                var cosine = refNorm2 == 0 ? 0 : dot / (norms[i] * Math.Sqrt(refNorm2));
                (cosine < 0 ? filtered : kept).Add(i);
            }
        }
        else
        {
            for (var i = 0; i < flat.Length; i++) (norms[i] > 0 ? kept : filtered).Add(i);
        }
        if (kept.Count == 0) return new AggregationResult(null, filtered, kept);

        var medianNorm = Median(kept.Select(i => norms[i]).ToArray());
        var bound = clipFactor * medianNorm;
        var totalWeight = kept.Sum(i => inputs[i].Weight);
        var template = inputs[0].Dense;
        var update = template.Select(t => new NamedTensor(t.Name, (int[])t.Shape.Clone(), new float[t.Count])).ToArray();
        foreach (var i in kept)
        {
            var clip = norms[i] > bound && norms[i] > 0 ? bound / norms[i] : 1.0;
            var w = inputs[i].Weight / totalWeight * clip;
            for (var t = 0; t < update.Length; t++)
            {
                var src = inputs[i].Dense[t].Data;
                var dst = update[t].Data;
                for (var k = 0; k < dst.Length; k++) dst[k] += (float)(w * src[k]);
            }
        }
        return new AggregationResult(update, filtered, kept);
    }

    /// <summary>FedBuff's staleness discount: 1/√(1 + versions the delta is behind).</summary>
    public static double StalenessDiscount(int staleness) => 1.0 / Math.Sqrt(1 + Math.Max(0, staleness));

    internal static double Median(double[] values)
    {
        if (values.Length == 0) return 0;
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static double[] Flatten(IReadOnlyList<NamedTensor> tensors)
    {
        var result = new double[tensors.Sum(t => t.Count)];
        var offset = 0;
        foreach (var t in tensors)
        {
            for (var k = 0; k < t.Count; k++) result[offset + k] = t.Data[k];
            offset += t.Count;
        }
        return result;
    }

    private static double Norm(double[] v)
    {
        double s = 0;
        foreach (var x in v) s += x * x;
        return Math.Sqrt(s);
    }
}
