using System.Globalization;
using System.Text;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>Tables of the keyword experiment: per scenario, strategy and k, mean ± sd over seeds (and new families).</summary>
public static class KeywordReport
{
    /// <summary>Markdown lines: one table per scenario, then the goals checked against the numbers.</summary>
    public static IReadOnlyList<string> TableLines(IReadOnlyList<KeywordCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var lines = new List<string>();
        foreach (var scenario in cells.Select(c => c.Scenario).Distinct())
        {
            var rows = cells.Where(c => c.Scenario == scenario).ToList();
            var newName = scenario == KeywordScenario.NewKeywords ? "new-word recall" : "new acc.";
            lines.Add($"#### {KeywordExperiment.Name(scenario)} ({string.Join(", ", rows.Select(c => c.Condition).Distinct())}; n = {Runs(rows)} runs per row)");
            lines.Add("");
            lines.Add($"| strategy | k | clips | {newName} before | after | vs none | old acc. before | after | change | sample-grads | wall |");
            lines.Add("|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var group in rows.GroupBy(c => (c.Shots, c.Strategy)).OrderBy(g => g.Key.Shots).ThenBy(g => g.Key.Strategy))
            {
                var g = group.ToList();
                var none = rows.Where(c => c.Shots == group.Key.Shots && c.Strategy == StrategyKind.NoUpdate).ToList();
                var vsNone = none.Count == 0 ? "—" : Points(Summary.Of(Paired(g, none)));
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {Label(group.Key.Strategy)} | {group.Key.Shots} | {g[0].Clips} | {Pct(Summary.Of(g.Select(c => c.NewBefore)))} | {Pct(Summary.Of(g.Select(c => c.NewAfter)))} | {vsNone} | ") +
                    string.Create(CultureInfo.InvariantCulture,
                    $"{Pct(Summary.Of(g.Select(c => c.OldBefore)))} | {Pct(Summary.Of(g.Select(c => c.OldAfter)))} | {Points(Summary.Of(g.Select(c => c.OldAfter - c.OldBefore)))} | {g.Average(c => c.SampleGradients):N0} | {g.Average(c => c.WallTime.TotalMilliseconds):0} ms |"));
            }
            lines.Add("");
        }
        lines.AddRange(GoalLines(cells));
        return lines;
    }

    /// <summary>Every run as CSV (one row per scenario, condition, strategy, k and seed).</summary>
    public static string Csv(IReadOnlyList<KeywordCell> cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        var sb = new StringBuilder("scenario,condition,strategy,k,seed,new_before,new_after,old_before,old_after,clips,sample_gradients,wall_ms\n");
        foreach (var c in cells)
            sb.Append(CultureInfo.InvariantCulture,
                $"{c.Scenario},{c.Condition},{Label(c.Strategy)},{c.Shots},{c.Seed},{c.NewBefore:0.0000},{c.NewAfter:0.0000},{c.OldBefore:0.0000},{c.OldAfter:0.0000},{c.Clips},{c.SampleGradients},{c.WallTime.TotalMilliseconds:0.0}\n");
        return sb.ToString();
    }

    /// <summary>The pooling table.</summary>
    public static IReadOnlyList<string> PoolingLines(IReadOnlyList<PoolingResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var lines = new List<string>
        {
            "| pooling | head input | base families (held out) | new families | noisy (base families) |",
            "|---|---|---|---|---|",
        };
        lines.AddRange(results.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"| {r.Pool} | {r.Width} | {Pct(r.BaseFamilies)} | {Pct(r.NewFamilies)} | {Pct(r.Noisy)} |")));
        return lines;
    }

    /// <summary>The strategy's name in keyword tables.</summary>
    public static string Label(StrategyKind kind) => kind switch
    {
        StrategyKind.NoUpdate => "none",
        StrategyKind.Stateful => "fine-tune",
        StrategyKind.Replay => "replay",
        StrategyKind.Ewc => "replay+ewc",
        _ => StrategyNames.Of(kind),
    };

    // The issue's goals, each stated with the numbers that decide it.
    private static List<string> GoalLines(IReadOnlyList<KeywordCell> cells)
    {
        var lines = new List<string> { "Goals (mean over runs):", "" };
        double Mean(KeywordScenario s, StrategyKind k, int shots, Func<KeywordCell, double> f) =>
            cells.Where(c => c.Scenario == s && c.Strategy == k && c.Shots == shots).Select(f).DefaultIfEmpty(double.NaN).Average();
        foreach (var kind in new[] { StrategyKind.Replay, StrategyKind.Ewc })
        {
            if (!cells.Any(c => c.Strategy == kind)) continue;
            var name = Label(kind);
            if (cells.Any(c => c.Scenario == KeywordScenario.NewVoice))
            {
                var gain5 = Mean(KeywordScenario.NewVoice, kind, 5, c => c.NewAfter) - Mean(KeywordScenario.NewVoice, StrategyKind.NoUpdate, 5, c => c.NewAfter);
                var acc10 = Mean(KeywordScenario.NewVoice, kind, 10, c => c.NewAfter);
                var old10 = Mean(KeywordScenario.NewVoice, kind, 10, c => c.OldAfter - c.OldBefore);
                var ft10 = Mean(KeywordScenario.NewVoice, StrategyKind.Stateful, 10, c => c.OldAfter - c.OldBefore);
                lines.Add(Goal($"new voice family, {name}: ≥ +10 points over none with 5 clips/word", gain5 >= 0.10, $"{100 * gain5:+0.0;-0.0} points"));
                lines.Add(Goal($"new voice family, {name}: ≥ 95 % with 10 clips/word", acc10 >= 0.95, Pct(acc10)));
                lines.Add(Goal($"new voice family, {name}: old voices lose ≤ 1 point (10 clips/word)", old10 >= -0.01,
                    $"{100 * old10:+0.0;-0.0} points (fine-tune alone: {100 * ft10:+0.0;-0.0})"));
            }
            if (cells.Any(c => c.Scenario == KeywordScenario.NewKeywords))
            {
                var recall = Mean(KeywordScenario.NewKeywords, kind, 10, c => c.NewAfter);
                var drop = Mean(KeywordScenario.NewKeywords, kind, 10, c => c.OldAfter - c.OldBefore);
                var ftDrop = Mean(KeywordScenario.NewKeywords, StrategyKind.Stateful, 10, c => c.OldAfter - c.OldBefore);
                lines.Add(Goal($"new keyword, {name}: ≥ 90 % recall from 10 clips", recall >= 0.90, Pct(recall)));
                lines.Add(Goal($"new keyword, {name}: old keywords drop ≤ 2 points", drop >= -0.02, $"{100 * drop:+0.0;-0.0} points (fine-tune alone: {100 * ftDrop:+0.0;-0.0})"));
            }
        }
        return lines;
    }

    private static string Goal(string what, bool met, string value) => $"- {what}: **{(met ? "met" : "not met")}** ({value})";

    // Per run, this strategy's new-condition accuracy minus no-update's on the same seed and condition.
    private static IEnumerable<double> Paired(IReadOnlyList<KeywordCell> runs, IReadOnlyList<KeywordCell> none) =>
        runs.Select(r => r.NewAfter - none.First(n => n.Seed == r.Seed && n.Condition == r.Condition).NewAfter);

    private static int Runs(IReadOnlyList<KeywordCell> rows) => rows.Select(c => (c.Seed, c.Condition)).Distinct().Count();

    private static string Pct(double v) => double.IsNaN(v) ? "—" : (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    private static string Pct(Summary s) => double.IsNaN(s.Mean) ? "—"
        : string.Create(CultureInfo.InvariantCulture, $"{100 * s.Mean:0.0} ± {100 * s.Sd:0.0} %");

    private static string Points(Summary s) => double.IsNaN(s.Mean) ? "—"
        : string.Create(CultureInfo.InvariantCulture, $"{100 * s.Mean:+0.0;-0.0;0.0} ± {100 * s.Sd:0.0}");
}
