using System.Globalization;
using System.Security;
using System.Text;

namespace ContinualLearning.Experiments;

/// <summary>One line of a chart.</summary>
internal sealed record ChartSeries(string Name, IReadOnlyList<double> Y);

/// <summary>
/// A minimal SVG line chart (axes, grid, lines, legend, dashed vertical markers). Written by hand because the
/// product carries no plotting library and an SVG is a few lines of XML that every browser renders.
/// </summary>
internal static class SvgLineChart
{
    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>Writes the chart; y is clamped to [<paramref name="yMin"/>, <paramref name="yMax"/>].</summary>
    public static void Write(TextWriter writer, string title, string xLabel, string yLabel, IReadOnlyList<double> x, IReadOnlyList<ChartSeries> series,
        IReadOnlyList<double>? markers = null, double yMin = 0, double yMax = 1)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(series);
        foreach (var s in series)
            if (s.Y.Count != x.Count)
                throw new ArgumentException($"Series '{s.Name}' has {s.Y.Count} points but there are {x.Count} x values.", nameof(series));
        if (!(yMax > yMin)) throw new ArgumentException($"yMax ({yMax}) must be above yMin ({yMin}).", nameof(yMax));

        const int width = 900, height = 480, left = 70, right = 170, top = 40, bottom = 55;
        var plotW = width - left - right;
        var plotH = height - top - bottom;
        var xMin = x.Count > 0 ? x.Min() : 0;
        var xMax = x.Count > 0 ? x.Max() : 1;
        if (xMax <= xMin) xMax = xMin + 1;
        double Px(double v) => left + (v - xMin) / (xMax - xMin) * plotW;
        double Py(double v) => top + (1 - (Math.Clamp(v, yMin, yMax) - yMin) / (yMax - yMin)) * plotH;
        static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        static string E(string s) => SecurityElement.Escape(s) ?? "";

        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">");
        sb.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        sb.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{E(title)}</text>");
        for (var k = 0; k <= 5; k++)
        {
            var v = yMin + (yMax - yMin) * k / 5;
            var py = Py(v);
            sb.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{F(py)}\" x2=\"{left + plotW}\" y2=\"{F(py)}\" stroke=\"#ddd\"/>");
            sb.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(py + 4)}\" text-anchor=\"end\">{F(v)}</text>");
            var xv = xMin + (xMax - xMin) * k / 5;
            sb.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{F(Px(xv))}\" y=\"{top + plotH + 18}\" text-anchor=\"middle\">{xv.ToString("0", CultureInfo.InvariantCulture)}</text>");
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#333\"/>");
        sb.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + plotW / 2}\" y=\"{height - 12}\" text-anchor=\"middle\">{E(xLabel)}</text>");
        sb.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"16\" y=\"{top + plotH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {top + plotH / 2})\">{E(yLabel)}</text>");
        foreach (var mk in markers ?? [])
        {
            if (mk < xMin || mk > xMax) continue;
            sb.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{F(Px(mk))}\" y1=\"{top}\" x2=\"{F(Px(mk))}\" y2=\"{top + plotH}\" stroke=\"#888\" stroke-dasharray=\"5,4\"/>");
        }
        for (var i = 0; i < series.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            if (x.Count > 0)
            {
                var points = string.Join(" ", x.Select((xv, k) => $"{F(Px(xv))},{F(Py(series[i].Y[k]))}"));
                sb.AppendLine(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{points}\"/>");
            }
            var ly = top + 10 + i * 20;
            sb.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{left + plotW + 12}\" y1=\"{ly}\" x2=\"{left + plotW + 36}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/>");
            sb.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{left + plotW + 42}\" y=\"{ly + 4}\">{E(series[i].Name)}</text>");
        }
        sb.AppendLine("</svg>");
        writer.Write(sb.ToString());
    }
}
