using System.Diagnostics.Metrics;
using System.Text;

namespace ContinualLearning.Diagnostics;

/// <summary>How a family keeps its measurements between scrapes.</summary>
internal enum MetricKind
{
    /// <summary><see cref="Counter{T}"/>: sum per label set, rendered as a counter.</summary>
    Counter,

    /// <summary><see cref="UpDownCounter{T}"/>: sum per label set, rendered as a gauge.</summary>
    Sum,

    /// <summary><see cref="Gauge{T}"/>: last value per label set.</summary>
    LastValue,

    /// <summary><see cref="Histogram{T}"/>: bucket counts, sum and count per label set.</summary>
    Histogram,

    /// <summary>An observable instrument: whatever its callback reports at the scrape, nothing kept.</summary>
    Observed,
}

/// <summary>
/// One instrument as a Prometheus metric family: its name, type and help, and its series. Measurements of synchronous
/// instruments arrive on the recording thread and are folded in under this family's own lock; observed ones arrive on
/// the scraping thread between <see cref="BeginScrape"/> and <see cref="Write"/>.
/// </summary>
internal sealed class MetricFamily
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Series> _series = new(StringComparer.Ordinal);
    private readonly List<Series> _order = [];
    private readonly List<(string Labels, long Whole, double Value)> _observed = [];

    private MetricFamily(Instrument instrument, MetricKind kind, string type, bool integral, double[]? bounds)
    {
        Kind = kind;
        Type = type;
        Integral = integral;
        Bounds = bounds;
        Name = PrometheusText.MetricName(instrument.Name, instrument.Unit, type == "counter");
        Help = PrometheusText.EscapeHelp(instrument.Description ?? "");
    }

    public string Name { get; }

    public string Help { get; }

    public MetricKind Kind { get; }

    /// <summary><c>counter</c>, <c>gauge</c> or <c>histogram</c>.</summary>
    public string Type { get; }

    /// <summary>Values are whole numbers (a long, int, short or byte instrument) and are written without a fraction.</summary>
    public bool Integral { get; }

    /// <summary>Upper bounds of the finite buckets, ascending (histograms only).</summary>
    public double[]? Bounds { get; }

    /// <summary>The family of an instrument, or null for an instrument kind this renderer does not know.</summary>
    public static MetricFamily? Create(Instrument instrument) =>
        Create<long>(instrument, true) ?? Create<double>(instrument, false) ?? Create<int>(instrument, true) ?? Create<float>(instrument, false)
        ?? Create<short>(instrument, true) ?? Create<byte>(instrument, true) ?? Create<decimal>(instrument, false);

    /// <summary>Folds in one measurement; <paramref name="whole"/> is used by integral families, <paramref name="value"/> by the rest.</summary>
    public void Record(long whole, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = PrometheusText.Labels(tags, sorted: Kind != MetricKind.Observed);
        if (Kind == MetricKind.Observed)
        {
            _observed.Add((labels, whole, value));
            return;
        }
        lock (_lock)
        {
            if (!_series.TryGetValue(labels, out var series))
            {
                series = new Series(labels, Bounds is { } b ? new long[b.Length] : null);
                _series.Add(labels, series);
                _order.Add(series);
            }
            series.Add(Kind, whole, value, Bounds);
        }
    }

    /// <summary>Forgets the observed values of the previous scrape.</summary>
    public void BeginScrape() => _observed.Clear();

    /// <summary>Writes HELP, TYPE and every series.</summary>
    public void Write(StringBuilder text)
    {
        text.Append("# HELP ").Append(Name).Append(' ').Append(Help).Append('\n');
        text.Append("# TYPE ").Append(Name).Append(' ').Append(Type).Append('\n');
        if (Kind == MetricKind.Observed)
        {
            foreach (var (labels, whole, value) in _observed) Sample(text, Name, labels, Integral ? Whole(whole) : PrometheusText.Number(value));
            return;
        }
        lock (_lock)
        {
            foreach (var series in _order)
            {
                if (Kind != MetricKind.Histogram)
                {
                    Sample(text, Name, series.Labels, Integral ? Whole(series.Whole) : PrometheusText.Number(series.Value));
                    continue;
                }
                var separator = series.Labels.Length == 0 ? "" : ",";
                long cumulative = 0;
                for (var i = 0; i < Bounds!.Length; i++)
                {
                    cumulative += series.Buckets![i];
                    Sample(text, Name + "_bucket", $"{series.Labels}{separator}le=\"{PrometheusText.Number(Bounds[i])}\"", Whole(cumulative));
                }
                Sample(text, Name + "_bucket", $"{series.Labels}{separator}le=\"+Inf\"", Whole(series.Count));
                Sample(text, Name + "_sum", series.Labels, Integral ? Whole(series.Whole) : PrometheusText.Number(series.Value));
                Sample(text, Name + "_count", series.Labels, Whole(series.Count));
            }
        }
    }

    private static MetricFamily? Create<T>(Instrument instrument, bool integral)
        where T : struct => instrument switch
        {
            Counter<T> => new(instrument, MetricKind.Counter, "counter", integral, null),
            UpDownCounter<T> => new(instrument, MetricKind.Sum, "gauge", integral, null),
            Gauge<T> => new(instrument, MetricKind.LastValue, "gauge", integral, null),
            Histogram<T> h => new(instrument, MetricKind.Histogram, "histogram", integral, BucketBounds(h.Advice?.HistogramBucketBoundaries)),
            ObservableCounter<T> => new(instrument, MetricKind.Observed, "counter", integral, null),
            ObservableGauge<T> or ObservableUpDownCounter<T> => new(instrument, MetricKind.Observed, "gauge", integral, null),
            _ => null,
        };

    private static double[] BucketBounds<T>(IReadOnlyList<T>? advice)
        where T : struct
    {
        var bounds = advice is { Count: > 0 } ? advice.Select(b => Convert.ToDouble(b, System.Globalization.CultureInfo.InvariantCulture)) : PrometheusText.DefaultBuckets;
        return [.. bounds.Where(double.IsFinite).Distinct().Order()];
    }

    private static void Sample(StringBuilder text, string name, string labels, string value)
    {
        text.Append(name);
        if (labels.Length > 0) text.Append('{').Append(labels).Append('}');
        text.Append(' ').Append(value).Append('\n');
    }

    private static string Whole(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed class Series(string labels, long[]? buckets)
    {
        public string Labels { get; } = labels;

        public long[]? Buckets { get; } = buckets;

        public long Whole { get; private set; }

        public double Value { get; private set; }

        public long Count { get; private set; }

        public void Add(MetricKind kind, long whole, double value, double[]? bounds)
        {
            if (kind == MetricKind.LastValue)
            {
                (Whole, Value) = (whole, value);
                return;
            }
            Whole += whole;
            Value += value;
            if (kind != MetricKind.Histogram) return;
            Count++;
            // Prometheus buckets are inclusive upper bounds (le); a value above the last bound only counts in +Inf.
            var i = Array.BinarySearch(bounds!, value);
            if (i < 0) i = ~i;
            if (i < Buckets!.Length) Buckets[i]++;
        }
    }
}
