namespace ContinualLearning.Evaluation;

/// <summary>Recovery after one known drift point.</summary>
/// <param name="DriftAt">Index of the first sample of the new concept.</param>
/// <param name="PreDriftAccuracy">Accuracy over the W samples before the drift (fewer if the drift is closer to the start).</param>
/// <param name="Delay">Samples after the drift until the first recovered window starts; null = not recovered before the next drift or the end.</param>
/// <param name="LowestAccuracy">Lowest accuracy over any full W-window after the drift (before the next drift or the end); NaN if none fits.</param>
public sealed record AdaptationResult(long DriftAt, double PreDriftAccuracy, long? Delay, double LowestAccuracy)
{
    /// <summary>True when the accuracy came back within the tolerance before the next drift or the end.</summary>
    public bool Recovered => Delay.HasValue;
}

/// <summary>
/// Adaptation delay, defined precisely: with window W and tolerance τ, let L be the accuracy over
/// samples [t_d − W, t_d). The delay is the smallest d ≥ 0 such that the accuracy over the
/// post-drift samples [t_d + d, t_d + d + W) is ≥ L − τ, where that window must end at or before the
/// next drift point (or the end of the stream). Only post-drift samples count, so a window that
/// still holds old-concept predictions cannot hide the dip; d = 0 means no measurable loss.
/// </summary>
internal static class AdaptationDelay
{
    /// <summary>Computes the delay after each drift point from a per-sample correctness record.</summary>
    /// <param name="correct">correct[t] = the prediction for sample t was right.</param>
    /// <param name="driftPoints">Known drift points, increasing.</param>
    /// <param name="window">W.</param>
    /// <param name="tolerance">τ, in accuracy units (0.02 = two percentage points).</param>
    public static IReadOnlyList<AdaptationResult> Compute(IReadOnlyList<bool> correct, IReadOnlyList<long> driftPoints, int window, double tolerance)
    {
        ArgumentNullException.ThrowIfNull(correct);
        ArgumentNullException.ThrowIfNull(driftPoints);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        if (tolerance is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "Recovery tolerance is an accuracy difference in [0, 1], e.g. 0.02.");
        }
        // Prefix sums make every window accuracy O(1).
        var prefix = new long[correct.Count + 1];
        for (var i = 0; i < correct.Count; i++)
        {
            prefix[i + 1] = prefix[i] + (correct[i] ? 1 : 0);
        }
        double Acc(long from, long to) => (double)(prefix[to] - prefix[from]) / (to - from);

        var results = new List<AdaptationResult>(driftPoints.Count);
        for (var j = 0; j < driftPoints.Count; j++)
        {
            var td = driftPoints[j];
            if (td <= 0 || td >= correct.Count || (j > 0 && td <= driftPoints[j - 1]))
            {
                throw new ArgumentOutOfRangeException(nameof(driftPoints), td, $"Drift point {j} must be inside the stream (1..{correct.Count - 1}) and after the previous one.");
            }
            var end = j + 1 < driftPoints.Count ? Math.Min(driftPoints[j + 1], correct.Count) : correct.Count;
            var level = Acc(Math.Max(0, td - window), td);
            long? delay = null;
            var lowest = double.NaN;
            for (var start = td; start + window <= end; start++)
            {
                var a = Acc(start, start + window);
                lowest = double.IsNaN(lowest) ? a : Math.Min(lowest, a);
                if (delay is null && a >= level - tolerance)
                {
                    delay = start - td;
                }
            }
            results.Add(new AdaptationResult(td, level, delay, lowest));
        }
        return results;
    }
}
