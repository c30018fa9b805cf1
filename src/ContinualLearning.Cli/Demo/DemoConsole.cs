using System.Globalization;
using Spectre.Console;

namespace ContinualLearning.Cli.Demo;

/// <summary>
/// Progress output: a Spectre.Console live table in a terminal, plain timestamped lines when stdout is redirected
/// (CI logs), nothing for tests.
/// </summary>
internal sealed class DemoConsole(DemoUi ui)
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>Events go straight to stdout in plain mode; the live view shows the latest ones under the table.</summary>
    public void OnEvent(string line)
    {
        if (ui == DemoUi.Plain) Console.WriteLine(line);
    }

    public void Line(string text)
    {
        if (ui == DemoUi.Live) AnsiConsole.MarkupLine(Markup.Escape(text));
        else if (ui == DemoUi.Plain) Console.WriteLine(text);
    }

    /// <summary>Shows progress until <paramref name="run"/> completes (or faults).</summary>
    public async Task ShowWhileAsync(DemoState state, DemoOptions options, Task run)
    {
        switch (ui)
        {
            case DemoUi.Live:
                await AnsiConsole.Live(Render(state, options)).AutoClear(false).StartAsync(async ctx =>
                {
                    while (!run.IsCompleted)
                    {
                        await Task.WhenAny(run, Task.Delay(250));
                        ctx.UpdateTarget(Render(state, options));
                    }
                });
                break;
            case DemoUi.Plain:
                while (!run.IsCompleted)
                {
                    await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(5)));
                    if (!run.IsCompleted) Console.WriteLine(ProgressLine(state, options));
                }
                break;
            default:
                await Task.WhenAny(run);
                break;
        }
    }

    public void ShowSummary(DemoSummary s)
    {
        if (ui == DemoUi.Quiet) return;
        if (ui == DemoUi.Plain)
        {
            Console.WriteLine();
            Console.WriteLine(s.ToMarkdown());
            return;
        }
        var versions = new Table().Border(TableBorder.Rounded).Title("[bold]Global versions on the held-out set[/]");
        foreach (var h in new[] { "model", "version", "parent", "outcome", "deltas", "devices", "held-out acc", "canary / control" })
            versions.AddColumn(h);
        foreach (var v in s.Versions)
        {
            var outcome = v.Outcome switch
            {
                nameof(VersionOutcome.Promoted) => "[green]promoted[/]",
                nameof(VersionOutcome.RolledBack) => "[red]rolled back[/]",
                nameof(VersionOutcome.Base) => "[grey]base (no update)[/]",
                nameof(VersionOutcome.Rejected) => "[red]rejected (holdout)[/]",
                nameof(VersionOutcome.ClusterCreated) => "[blue]new cluster[/]",
                _ => "[yellow]canary pending[/]",
            };
            var canary = v.CanaryAccuracy is { } a ? string.Format(C, "{0:P1} / {1:P1}", a, v.CanaryPreviousAccuracy) : "";
            versions.AddRow(Markup.Escape(v.Model), v.Version, v.Parent ?? "—", outcome, v.Deltas.ToString(C), v.Devices.ToString(C),
                v.HeldOutAccuracy.ToString("P1", C), canary);
        }
        AnsiConsole.Write(versions);
        var colour = s.Improvement >= 0 ? "green" : "red";
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow(s.Clustering ? "[bold]Cluster 0 alone[/]" : "[bold]Final global[/]", $"{s.FinalVersion}: [bold {colour}]{s.FinalAccuracy:P1}[/] vs no-update baseline {s.BaselineAccuracy:P1} ([{colour}]{s.Improvement * 100:+0.0;-0.0} points[/]) on {s.HeldOutSamples} {Markup.Escape(s.HeldOutUnit)}");
        if (s.ServedAccuracy is { } served)
        {
            var gain = served - s.ServedBaselineAccuracy!.Value;
            grid.AddRow("[bold]Served models[/]", $"each device's {(s.Clustering ? "cluster model" : "release")} on its own concept: [bold]{served:P1}[/] vs no-update {s.ServedBaselineAccuracy:P1} ({gain * 100:+0.0;-0.0} points); "
                + Markup.Escape(string.Join(", ", s.Groups.Select(g => $"{g.Group}: {g.ServedAccuracy.ToString("P1", C)}"))));
        }
        if (s.Clusters.Count > 0)
            grid.AddRow("[bold]Clusters[/]", Markup.Escape($"{s.LiveClusters} live: " + string.Join("; ", s.Clusters.Where(k => k.Live)
                .Select(k => $"{k.Model} {k.Release} served by {(k.ServedBy.Count == 0 ? "none" : string.Join(", ", k.ServedBy))}"))));
        grid.AddRow("[bold]Versions[/]", $"{s.VersionsReleased} released, {s.Promotions} promoted, {s.Rollbacks} rolled back");
        grid.AddRow("[bold]Deltas[/]", $"{s.DeltasSent} sent, {s.DeltasAccepted} accepted, {s.DeltasRejected} rejected" + (s.RejectReasons.Count == 0 ? "" : " (" + Markup.Escape(string.Join(", ", s.RejectReasons.Select(kv => $"{kv.Key}: {kv.Value}"))) + ")"));
        grid.AddRow("[bold]Bytes[/]", $"{s.BytesSent:N0} B of deltas vs {s.FullWeightBytes:N0} B as full fp32 weights: [bold]{s.CompressionRatio:0.#}× smaller[/]");
        grid.AddRow("[bold]Devices[/]", $"{s.DevicePromotions} local promotions, {s.ReleasesInstalled} verified releases installed");
        grid.AddRow("[bold]Run[/]", Markup.Escape($"{s.Devices} devices × {s.SamplesPerDevice} samples, broker {s.Broker}, {s.WallSeconds:0.0} s"));
        grid.AddRow("[bold]Transport[/]", Markup.Escape(s.Transport));
        AnsiConsole.Write(new Panel(grid).Header("cl demo summary").Border(BoxBorder.Rounded));
    }

    private static string ProgressLine(DemoState state, DemoOptions options)
    {
        var d = state.Devices;
        var samples = d.Sum(x => x.Samples);
        var a = state.Aggregator;
        return string.Format(C, "{0,5:0.0}s  progress: {1:P0} of samples, device accuracy {2:P1} (min {3:P1}), {4} promotions, {5} deltas ({6:N0} B); aggregator: version {7}, {8} accepted, {9} rejected, canary: {10}{11}",
            state.Elapsed.TotalSeconds, (double)samples / (d.Count * (long)options.SamplesPerDevice), d.Average(x => x.Accuracy), d.Min(x => x.Accuracy),
            d.Sum(x => x.Promotions), d.Sum(x => x.DeltasSent), d.Sum(x => x.BytesSent), a.CurrentVersion, a.DeltasAccepted, a.DeltasRejected, a.CanaryState,
            options.Clusters ? $", clusters: {a.LiveClusters}" : "");
    }

    private static Rows Render(DemoState state, DemoOptions options)
    {
        // An 80-column terminal cannot hold every counter: it gets the essentials, a wide one gets them all.
        var wide = AnsiConsole.Profile.Width >= 130;
        var table = new Table().Border(wide ? TableBorder.Rounded : TableBorder.Simple).Expand();
        table.Title($"[bold]cl demo[/] — {state.Devices.Count} devices, fleet [blue]{Markup.Escape(options.Fleet)}[/], {state.Elapsed.TotalSeconds:0}s");
        var headers = wide
            ? new[] { "device", "cohort", "concept", "model", "samples", "accuracy", "trainings", "promotions", "deltas", "bytes sent", "releases" }
            : new[] { "device", "cohort", "model", "done", "acc", "promo", "deltas", "bytes" };
        foreach (var h in headers)
            table.AddColumn(new TableColumn(h).RightAligned().NoWrap());
        foreach (var d in state.Devices)
        {
            var cohort = d.Shard.Poisoned ? "[red]poison[/]" : d.Shard.Canary ? "[yellow]canary[/]" : "all";
            var progress = (double)d.Samples / options.SamplesPerDevice;
            var accuracyColour = d.Accuracy >= 0.85 ? "green" : d.Accuracy >= 0.75 ? "yellow" : "red";
            var accuracy = $"[{accuracyColour}]{d.Accuracy.ToString("P1", C)}[/]";
            if (wide)
            {
                table.AddRow(
                    d.Id, cohort, Markup.Escape(d.Condition), d.Served,
                    string.Format(C, "{0} {1,4:P0}", Bar(progress), progress), accuracy,
                    d.TrainingRuns.ToString(C), d.Promotions.ToString(C), d.DeltasSent.ToString(C), d.BytesSent.ToString("N0", C), d.ReleasesInstalled.ToString(C));
            }
            else
            {
                table.AddRow(d.Id, cohort, d.Served, progress.ToString("P0", C), accuracy,
                    d.Promotions.ToString(C), d.DeltasSent.ToString(C), d.BytesSent.ToString("N0", C));
            }
        }
        var a = state.Aggregator;
        var agg = new Grid().AddColumn().AddColumn();
        agg.AddRow("[bold]aggregator[/]", string.Format(C, "global [bold]{0}[/] · versions {1} (promoted {2}, rolled back {3}) · canary: {4}{5}",
            a.CurrentVersion, a.Versions.Count - 1, a.Promotions, a.Rollbacks, Markup.Escape(a.CanaryState),
            options.Clusters ? $" · clusters: {a.LiveClusters}" : ""));
        agg.AddRow("[bold]deltas[/]", string.Format(C, "received {0} · accepted {1} · rejected {2} · buffered {3}",
            a.DeltasReceived, a.DeltasAccepted, a.DeltasRejected, a.Buffered));
        var events = new Rows(state.RecentEvents(8).Select(e => new Markup($"[grey]{Markup.Escape(e)}[/]")));
        return new Rows(table, new Panel(agg).Border(BoxBorder.Rounded), events);
    }

    private static string Bar(double fraction)
    {
        const int width = 10;
        var filled = (int)Math.Round(Math.Clamp(fraction, 0, 1) * width);
        return "[green]" + new string('█', filled) + "[/][grey]" + new string('░', width - filled) + "[/]";
    }
}
