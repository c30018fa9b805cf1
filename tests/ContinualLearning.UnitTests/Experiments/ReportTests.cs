using System.Globalization;
using System.Xml.Linq;
using ContinualLearning.Evaluation;
using ContinualLearning.Experiments;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Experiments;

public sealed class ReportTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-experiment-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static ExperimentResult SmallRun()
    {
        var stream = ExperimentStreams.Sea(DriftKind.Abrupt, 2000, seed: 1);
        var model = new StatefulFineTuneStrategy(new ManagedEngine(), 3, 2, new StrategyOptions { UpdateEvery = 50 });
        return ExperimentRunner.Run(stream,
            [new("majority-class", new MajorityClass(), IsBaseline: true), new("last-class", new LastClass(), IsBaseline: true), new("stateful", model)],
            new RunnerOptions { Window = 200, RecordEvery = 100 });
    }

    [Fact]
    public void Runner_scores_every_model_on_every_sample_with_held_out_and_delays()
    {
        var r = SmallRun();
        Assert.Equal(2000, r.Samples);
        Assert.All(r.Models, m => Assert.Equal(2000, m.Samples));
        Assert.All(r.Models, m => Assert.Equal(3, m.Adaptation.Count));
        Assert.All(r.Models, m => Assert.NotNull(m.HeldOutBefore));
        Assert.Equal(0, r.Models[0].SampleGradients);
        Assert.Equal(40 * 50, r.Models[2].SampleGradients);
    }

    [Fact]
    public void Csv_svg_and_markdown_are_written_and_well_formed()
    {
        var r = SmallRun();
        ExperimentReport.WriteAll(r, _dir, "cl experiment --stream sea", "settings");

        var csv = File.ReadAllLines(Path.Combine(_dir, "accuracy.csv"));
        Assert.Equal("samples,majority-class,last-class,stateful", csv[0]);
        Assert.Equal(21, csv.Length); // header + a point every 100 samples
        foreach (var line in csv.Skip(1))
        {
            var fields = line.Split(',');
            Assert.Equal(4, fields.Length);
            Assert.All(fields.Skip(1), f => Assert.InRange(double.Parse(f, CultureInfo.InvariantCulture), 0, 1));
        }

        var svg = XDocument.Load(Path.Combine(_dir, "accuracy.svg"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var lines = svg.Descendants(ns + "polyline").ToList();
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l => Assert.Equal(20, l.Attribute("points")!.Value.Split(' ').Length));
        Assert.Equal(3, svg.Descendants(ns + "line").Count(l => l.Attribute("stroke-dasharray") is not null)); // drift markers

        var md = File.ReadAllText(Path.Combine(_dir, "results.md"));
        Assert.Contains("| majority-class (baseline) |", md);
        Assert.Contains("| stateful |", md);
        Assert.Contains("cl experiment --stream sea", md);
    }

    [Fact]
    public void Svg_escapes_names_and_rejects_mismatched_series()
    {
        var w = new StringWriter();
        SvgLineChart.Write(w, "a < b & c", "x", "y", [0, 1], [new ChartSeries("<odd>", [0.5, 0.6])]);
        var doc = XDocument.Parse(w.ToString());
        Assert.Contains(doc.Descendants().Select(e => e.Value), v => v == "<odd>");
        Assert.Throws<ArgumentException>(() => SvgLineChart.Write(new StringWriter(), "t", "x", "y", [0, 1, 2], [new ChartSeries("s", [0.5])]));
    }
}
