using System.Globalization;

namespace ContinualLearning.Experiments;

/// <summary>Writes an <see cref="ExperimentResult"/> as a Markdown table, a CSV of accuracy over time and an SVG chart.</summary>
public static class ExperimentReport
{
    /// <summary>Writes results.md, accuracy.csv and accuracy.svg into <paramref name="directory"/> (created if needed).</summary>
    public static void WriteAll(ExperimentResult result, string directory, string commandLine, string settings)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        using (var w = new StreamWriter(Path.Combine(directory, "results.md")))
            WriteMarkdown(w, result, commandLine, settings);
        using (var w = new StreamWriter(Path.Combine(directory, "accuracy.csv")))
            WriteCsv(w, result);
        using (var w = new StreamWriter(Path.Combine(directory, "accuracy.svg")))
            WriteSvg(w, result);
    }

    /// <summary>The results table, Markdown.</summary>
    public static void WriteMarkdown(TextWriter w, ExperimentResult result, string commandLine, string settings)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(result);
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# Experiment: {result.Stream.Name}"));
        w.WriteLine();
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Stream: {result.Stream.Description}; {result.Samples} samples."));
        w.WriteLine();
        w.WriteLine("```");
        w.WriteLine(commandLine);
        w.WriteLine("```");
        w.WriteLine();
        w.WriteLine(settings);
        w.WriteLine();
        foreach (var line in TableLines(result)) w.WriteLine(line);
        w.WriteLine();
        var heldOut = ExperimentStreams.HeldOutSize.ToString(CultureInfo.InvariantCulture);
        var window = result.Window.ToString(CultureInfo.InvariantCulture);
        w.WriteLine(
            "Prequential accuracy is test-then-train over every sample. Held-out A: accuracy on " + heldOut +
            " fresh noise-free samples of the first concept, before the first drift and at the end; kept = after / before. " +
            "Delay: samples after each drift until a " + window + "-sample window is back within 2 points of the pre-drift level " +
            "('—' = never before the next drift). Sample-grads: samples × passes through backward (Fisher samples included). " +
            "Wall: time in the model's predict + learn calls.");
    }

    /// <summary>The Markdown table rows (header first).</summary>
    public static IEnumerable<string> TableLines(ExperimentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var held = result.Stream.HeldOutFirstConcept is not null;
        var drifts = result.Models.Count > 0 ? result.Models[0].Adaptation.Count : 0;
        var header = "| model | preq. acc. |" + (held ? " held-out A before | after | kept |" : "") + (drifts > 0 ? " delay after drifts |" : "") + " sample-grads | wall |";
        yield return header;
        yield return "|" + string.Concat(Enumerable.Repeat("---|", header.Count(c => c == '|') - 1));
        foreach (var m in result.Models)
        {
            var name = m.IsBaseline ? $"{m.Name} (baseline)" : m.Name;
            var row = string.Create(CultureInfo.InvariantCulture, $"| {name} | {100 * m.Accuracy:F2}% |");
            if (held)
            {
                // A naive baseline's held-out score depends only on the last label it saw, so "kept" means nothing for it.
                row += m.HeldOutBefore is { } b && m.HeldOutAfter is { } a
                    ? string.Create(CultureInfo.InvariantCulture, $" {100 * b:F1}% | {100 * a:F1}% | ") + (m.IsBaseline ? "— |" : string.Create(CultureInfo.InvariantCulture, $"{100 * m.Retention:F1}% |"))
                    : " — | — | — |";
            }
            if (drifts > 0)
                row += " " + string.Join(" / ", m.Adaptation.Select(d => d.Delay is { } v ? v.ToString(CultureInfo.InvariantCulture) : "—")) + " |";
            row += m.IsBaseline ? " 0 |" : string.Create(CultureInfo.InvariantCulture, $" {m.SampleGradients:N0} |");
            row += string.Create(CultureInfo.InvariantCulture, $" {m.WallTime.TotalSeconds:F1} s |");
            yield return row;
        }
    }

    /// <summary>Accuracy over time: <c>samples</c>, then one column of windowed accuracy per model.</summary>
    public static void WriteCsv(TextWriter w, ExperimentResult result)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(result);
        w.WriteLine("samples," + string.Join(",", result.Models.Select(m => m.Name)));
        for (var r = 0; r < result.SeriesSamples.Count; r++)
            w.WriteLine(result.SeriesSamples[r].ToString(CultureInfo.InvariantCulture) + "," +
                string.Join(",", result.SeriesAccuracy[r].Select(v => v.ToString("F4", CultureInfo.InvariantCulture))));
    }

    /// <summary>The windowed accuracy of every model over time, drift points dashed.</summary>
    public static void WriteSvg(TextWriter w, ExperimentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var x = result.SeriesSamples.Select(s => (double)s).ToList();
        var series = result.Models.Select((m, i) => new ChartSeries(m.Name, [.. result.SeriesAccuracy.Select(row => row[i])])).ToList();
        var lowest = result.SeriesAccuracy.Where((_, r) => result.SeriesSamples[r] >= result.Window).SelectMany(r => r).DefaultIfEmpty(0).Min();
        var yMin = Math.Max(0, Math.Floor(lowest * 10) / 10);
        SvgLineChart.Write(w, $"{result.Stream.Name}: accuracy over the last {result.Window} samples", "samples", "windowed accuracy", x, series,
            [.. result.Stream.DriftPoints.Select(p => (double)p)], yMin, 1);
    }
}
