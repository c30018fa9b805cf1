using System.Text.Json;
using System.Text.RegularExpressions;
using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Device.Serving;
using ContinualLearning.Diagnostics;

namespace ContinualLearning.UnitTests.Diagnostics;

/// <summary>
/// deploy/grafana/continual-learning.json charts only what the code exports: every metric a PromQL expression names
/// must be a family the aggregator's or the device's <c>/metrics</c> renders (histograms with their <c>_bucket</c>,
/// <c>_sum</c>, <c>_count</c> series). A renamed instrument fails here instead of leaving an empty panel.
/// </summary>
public sealed partial class GrafanaDashboardTests
{
    private static readonly string s_dashboard = Path.Combine(RepoRoot(), "deploy", "grafana", "continual-learning.json");

    // PromQL words that look like metric names but are not: aggregation modifiers and binary operators.
    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless", "inf", "nan",
    };

    [Fact]
    public void Every_PromQL_expression_names_only_metrics_the_code_exports()
    {
        var exported = ExportedSeries();
        var expressions = Expressions(JsonDocument.Parse(File.ReadAllText(s_dashboard)).RootElement).ToArray();
        Assert.True(expressions.Length >= 20, $"only {expressions.Length} expressions found in {s_dashboard}");
        var unknown = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (panel, expr) in expressions)
        {
            var names = MetricNames(expr);
            Assert.True(names.Count > 0, $"panel '{panel}': no metric in '{expr}'");
            foreach (var name in names)
            {
                if (exported.Contains(name)) used.Add(name);
                else unknown.Add($"panel '{panel}': {name} in {expr}");
            }
        }
        Assert.True(unknown.Count == 0, "metrics not exported by the code:\n" + string.Join("\n", unknown));
        // Both services are charted, not just one.
        Assert.Contains(used, n => n.StartsWith("cl_aggregator_", StringComparison.Ordinal));
        Assert.Contains("cl_window_accuracy", used);
    }

    [Fact]
    public void The_metric_name_reader_sees_through_functions_labels_ranges_and_grouping()
    {
        Assert.Equal(["cl_a_bucket"], MetricNames("histogram_quantile(0.95, sum by (le, cl_op) (rate(cl_a_bucket{job=\"$job\", x=~\"a|b\"}[$__rate_interval])))"));
        Assert.Equal(["cl_x", "cl_y"], MetricNames("sum(cl_x{job=\"j\"}) / on (instance) group_left cl_y > 0"));
        Assert.Equal(["cl_z"], MetricNames("bottomk(10, cl_z) offset 5m"));
    }

    [Fact]
    public void The_exported_set_is_read_from_the_services_own_exposition()
    {
        var exported = ExportedSeries();
        Assert.Contains("cl_aggregator_deltas_accepted_total", exported);
        Assert.Contains("cl_aggregator_round_duration_seconds_bucket", exported);
        Assert.Contains("cl_deltas_sent_total", exported);
        Assert.DoesNotContain("cl_aggregator_round_duration_seconds_total", exported);
    }

    /// <summary>Series names a scrape of the aggregator and of a device can hold, from their own renderers' TYPE lines.</summary>
    private static HashSet<string> ExportedSeries()
    {
        using var aggregator = new AggregatorMetrics();
        using var aggregatorText = new PrometheusText(aggregator.Meter);
        using var device = new DeviceMetrics(() => null);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in new[] { aggregatorText.Render(), device.RenderPrometheus() })
        {
            foreach (Match m in TypeLine().Matches(text))
            {
                var (name, kind) = (m.Groups[1].Value, m.Groups[2].Value);
                names.Add(name);
                if (kind == "histogram") names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
            }
        }
        return names;
    }

    private static IEnumerable<(string Panel, string Expr)> Expressions(JsonElement node, string panel = "")
    {
        if (node.ValueKind == JsonValueKind.Object)
        {
            var title = node.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : panel;
            foreach (var property in node.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String) yield return (title, property.Value.GetString()!);
                else foreach (var e in Expressions(property.Value, title)) yield return e;
            }
        }
        else if (node.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in node.EnumerateArray())
                foreach (var e in Expressions(item, panel)) yield return e;
        }
    }

    /// <summary>
    /// The metric names in a PromQL expression: strings, label matchers <c>{…}</c>, ranges <c>[…]</c> and grouping
    /// label lists <c>by (…)</c> are removed; what is left that is an identifier not followed by <c>(</c> (a function)
    /// and not a keyword is a metric.
    /// </summary>
    internal static List<string> MetricNames(string expr)
    {
        var text = QuotedString().Replace(expr, " ");
        text = Braces().Replace(text, " ");
        text = Brackets().Replace(text, " ");
        text = GroupingList().Replace(text, " ");
        var names = new List<string>();
        foreach (Match m in Identifier().Matches(text))
        {
            var word = m.Groups[1].Value;
            var isFunction = m.Groups[2].Success;
            var isDuration = m.Index > 0 && char.IsAsciiDigit(text[m.Index - 1]);
            if (isFunction || isDuration || s_keywords.Contains(word.ToLowerInvariant())) continue;
            if (!names.Contains(word)) names.Add(word);
        }
        return names;
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ContinualLearning.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"ContinualLearning.sln not found above {AppContext.BaseDirectory}; run the tests from the repository.");
    }

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex QuotedString();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Braces();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Brackets();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex GroupingList();

    [GeneratedRegex(@"(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")]
    private static partial Regex Identifier();
}
