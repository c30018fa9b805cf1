namespace ContinualLearning.Evaluation;

/// <summary>
/// Recovery after a drift measured on a per-round accuracy series (one value per federated round, e.g. a group's mean
/// over its devices): how many rounds until the series reaches a target, and how far it stays below it. Pure functions;
/// the federated drift benchmark uses them with two targets — the group's own pre-drift level and a target common to
/// every method (<see cref="SettledLevel"/> of the oracle).
/// </summary>
internal static class RoundRecovery
{
    /// <summary>
    /// The rounds k from <paramref name="drift"/> until the series first reaches <paramref name="target"/>
    /// (accuracy[drift + k] ≥ target, so 0 = already at the target in the drift's round), looking at rounds drift …
    /// drift + horizon − 1 that the series has; <paramref name="horizon"/> when it never does (read "> horizon − 1").
    /// </summary>
    public static int RoundsToReach(IReadOnlyList<double> accuracy, int drift, double target, int horizon)
    {
        CheckRound(accuracy, drift);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizon, 1);
        if (double.IsNaN(target))
        {
            throw new ArgumentOutOfRangeException(nameof(target), target, "The recovery target is an accuracy; NaN compares false with every round, so it is refused.");
        }
        for (var k = 0; k < horizon && drift + k < accuracy.Count; k++)
        {
            if (accuracy[drift + k] >= target) return k;
        }
        return horizon;
    }

    /// <summary>
    /// The series' mean over rounds <paramref name="from"/> … from + <paramref name="count"/> − 1, cut at the series'
    /// end: a level the series settled at (e.g. 5 rounds after a drift, over 10 rounds), or its level before a drift.
    /// </summary>
    public static double SettledLevel(IReadOnlyList<double> accuracy, int from, int count)
    {
        CheckRound(accuracy, from);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var end = Math.Min(accuracy.Count, from + count);
        double sum = 0;
        for (var r = from; r < end; r++) sum += accuracy[r];
        return sum / (end - from);
    }

    /// <summary>
    /// How far the series stays below <paramref name="target"/> over the <paramref name="window"/> rounds from
    /// <paramref name="drift"/> (cut at the series' end): Σ max(0, target − accuracy[r]), in accuracy × rounds (0.1 =
    /// 10 points for one round, or 1 point for ten). Zero when the series never falls below the target; it counts both
    /// how deep and how long, which a round count alone does not.
    /// </summary>
    public static double Shortfall(IReadOnlyList<double> accuracy, int drift, double target, int window)
    {
        CheckRound(accuracy, drift);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        double sum = 0;
        for (var r = drift; r < Math.Min(accuracy.Count, drift + window); r++) sum += Math.Max(0, target - accuracy[r]);
        return sum;
    }

    private static void CheckRound(IReadOnlyList<double> accuracy, int round)
    {
        ArgumentNullException.ThrowIfNull(accuracy);
        if (round < 0 || round >= accuracy.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(round), round, $"The round must be inside the series (0..{accuracy.Count - 1}).");
        }
    }
}
