using System.Globalization;
using ContinualLearning.Evaluation;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>One method's recovery on one seed, per group drift (index = group).</summary>
/// <param name="ToOwnLevel">Rounds until the group is back within the tolerance of its own pre-drift level (<see cref="FederatedDriftRecovery.Horizon"/> = not within it).</param>
/// <param name="PostDriftMean">The group's mean accuracy over the <see cref="FederatedDriftRecovery.PostDriftWindow"/> rounds from its drift.</param>
/// <param name="ToTarget">Rounds until the group first reaches the seed's common target (<see cref="FederatedDriftRecovery.Horizon"/> = not within it).</param>
/// <param name="Shortfall">Accuracy × rounds below the common target over the <see cref="FederatedDriftRecovery.PostDriftWindow"/> rounds from the drift.</param>
internal sealed record DriftRecoveryResult(int[] ToOwnLevel, double[] PostDriftMean, int[] ToTarget, double[] Shortfall);

/// <summary>
/// The federated drift benchmark's recovery measures (<see cref="RoundRecovery"/> on each group's per-round accuracy)
/// and their tables. Two targets: the group's own level over the <see cref="PreDriftWindow"/> rounds before its drift
/// minus the tolerance (method-dependent: a method that was low before the drift "recovers" at once), and a target
/// common to every method of a seed — the oracle's level for that group once settled after the drift (rounds drift +
/// <see cref="SettleRounds"/> … + <see cref="SettledWindow"/> − 1) minus the tolerance.
/// </summary>
internal static class FederatedDriftRecovery
{
    public const int PreDriftWindow = 5;
    public const int Horizon = 20;
    public const double Tolerance = 0.02;
    public const int PostDriftWindow = 10;
    // The oracle learns a concept no group has had in about 5 rounds (hyperplane, keywords); its level from then on,
    // averaged over 10 rounds to smooth the round-to-round noise, is what a method that knows the concept reaches.
    public const int SettleRounds = 5;
    public const int SettledWindow = 10;

    /// <summary>series[g][round]: the mean accuracy of group g's devices (device d is in group d mod groups) in each round.</summary>
    public static double[][] GroupSeries(int groups, double[,] accuracy)
    {
        var rounds = accuracy.GetLength(0);
        var devices = accuracy.GetLength(1);
        return [.. Enumerable.Range(0, groups).Select(g => Enumerable.Range(0, rounds)
            .Select(r => Enumerable.Range(0, devices).Where(d => d % groups == g).Average(d => accuracy[r, d])).ToArray())];
    }

    /// <summary>Per group: the oracle's mean accuracy over the settled rounds after the group's drift, minus the tolerance.</summary>
    public static double[] CommonTargets(IReadOnlyList<int> driftRounds, double[][] oracleGroups) =>
        [.. driftRounds.Select((t, g) => RoundRecovery.SettledLevel(oracleGroups[g], t + SettleRounds, SettledWindow) - Tolerance)];

    public static DriftRecoveryResult Measure(IReadOnlyList<int> driftRounds, double[][] groups, double[] targets)
    {
        int[] ownLevel = [.. driftRounds.Select((t, g) => RoundRecovery.RoundsToReach(groups[g], t,
            RoundRecovery.SettledLevel(groups[g], t - PreDriftWindow, PreDriftWindow) - Tolerance, Horizon))];
        double[] postDrift = [.. driftRounds.Select((t, g) => RoundRecovery.SettledLevel(groups[g], t, PostDriftWindow))];
        int[] toTarget = [.. driftRounds.Select((t, g) => RoundRecovery.RoundsToReach(groups[g], t, targets[g], Horizon))];
        double[] shortfall = [.. driftRounds.Select((t, g) => RoundRecovery.Shortfall(groups[g], t, targets[g], PostDriftWindow))];
        return new DriftRecoveryResult(ownLevel, postDrift, toTarget, shortfall);
    }

    /// <summary>Prints both recovery tables: one row per method (in <paramref name="order"/>), per group the per-seed figures.</summary>
    public static void Print(IReadOnlyList<int> driftRounds, IReadOnlyList<string> order, IReadOnlyDictionary<string, List<DriftRecoveryResult>> results, IReadOnlyList<double[]> targets)
    {
        var groups = driftRounds.Count;
        Console.WriteLine();
        Console.WriteLine($"Rounds until a group is back within {Tolerance * 100:F0} points of its accuracy over the {PreDriftWindow} rounds before its drift (0 = no visible drop; > {Horizon - 1} = not within {Horizon} rounds); per seed; in brackets the group's mean accuracy over the {PostDriftWindow} rounds from its drift (mean over seeds):");
        Header(driftRounds);
        foreach (var method in order)
        {
            var runs = results[method];
            Row(method, Enumerable.Range(0, groups).Select(g =>
                $"{string.Join(" / ", runs.Select(r => RoundsText(r.ToOwnLevel[g])))} ({runs.Average(r => r.PostDriftMean[g]):P1})"));
        }
        Console.WriteLine();
        Console.WriteLine($"Rounds from a group's drift until its accuracy first reaches a target common to every method: the oracle's mean accuracy for that group over rounds drift + {SettleRounds} … drift + {SettleRounds + SettledWindow - 1} of the same seed, minus {Tolerance * 100:F0} points (first row; > {Horizon - 1} = not within {Horizon} rounds, i.e. before the next drift or the end); per seed; in brackets the points below the target summed over the {PostDriftWindow} rounds from the drift (mean over seeds; 0 = never below):");
        Header(driftRounds);
        Row($"common target (oracle settled − {Tolerance * 100:F0} points)", Enumerable.Range(0, groups).Select(g =>
            string.Join(" / ", targets.Select(t => t[g].ToString("P1", CultureInfo.InvariantCulture)))));
        foreach (var method in order)
        {
            var runs = results[method];
            Row(method, Enumerable.Range(0, groups).Select(g =>
                $"{string.Join(" / ", runs.Select(r => RoundsText(r.ToTarget[g])))} ({(runs.Average(r => r.Shortfall[g]) * 100).ToString("F1", CultureInfo.InvariantCulture)})"));
        }
    }

    private static void Header(IReadOnlyList<int> driftRounds)
    {
        Console.WriteLine();
        Console.WriteLine($"| Method | {string.Join(" | ", driftRounds.Select((r, g) => $"group {(char)('A' + g)} (drift at round {r})"))} |");
        Console.WriteLine($"| --- |{string.Concat(Enumerable.Repeat(" --- |", driftRounds.Count))}");
    }

    private static void Row(string method, IEnumerable<string> cells) => Console.WriteLine($"| {method} | {string.Join(" | ", cells)} |");

    private static string RoundsText(int rounds) => rounds >= Horizon ? $"> {Horizon - 1}" : rounds.ToString(CultureInfo.InvariantCulture);
}
