using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace ContinualLearning.Diagnostics;

/// <summary>
/// Renders one <see cref="Meter"/> in the Prometheus text exposition format (version 0.0.4), read through a
/// <see cref="MeterListener"/>: a HELP and a TYPE line per instrument, in the order the instruments were published,
/// then its samples. Synchronous instruments are accumulated per label set from the moment this object exists
/// (<see cref="Counter{T}"/> as a <c>counter</c>, <see cref="UpDownCounter{T}"/> as a <c>gauge</c> holding the sum,
/// <see cref="Gauge{T}"/> as a <c>gauge</c> holding the last value, <see cref="Histogram{T}"/> as a <c>histogram</c>
/// with <c>_bucket{le=…}</c>, <c>_sum</c> and <c>_count</c>); observable instruments are read at every
/// <see cref="Render"/>. Names follow OpenTelemetry's Prometheus mapping (<see cref="MetricName"/>).
/// </summary>
/// <remarks>
/// Not the OpenTelemetry Prometheus exporter: it is a prerelease (1.20.1-beta.1), it brings the OpenTelemetry SDK
/// (its own aggregation pipeline, options and DI registration) into the native-AOT device daemon whose peak RSS is
/// 67 MB on an 80 MB budget, and, as the OpenTelemetry compatibility specification asks, it adds <c>otel_scope_*</c>
/// labels and a <c>target_info</c> family, which would change the series the device's users already chart. What the two services need from it is this file: one meter,
/// cumulative temporality, fixed buckets. No reflection: instrument kinds are matched by type patterns, so the class
/// stays native-AOT clean.
/// </remarks>
public sealed class PrometheusText : IDisposable
{
    /// <summary>The Content-Type of <see cref="Render"/>'s text.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// Bucket bounds of a histogram that gives no <see cref="InstrumentAdvice{T}.HistogramBucketBoundaries"/>: the
    /// Prometheus client libraries' default, made for durations in seconds.
    /// </summary>
    public static IReadOnlyList<double> DefaultBuckets { get; } = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly List<MetricFamily> _families = [];
    private readonly Lock _familiesLock = new();

    // Serialises scrapes. Never held by a thread that records a synchronous measurement (those take only their
    // family's own lock), so an observable callback that waits for a lock some recording thread holds cannot deadlock.
    private readonly Lock _renderLock = new();

    /// <summary>Starts listening to <paramref name="meter"/>'s instruments, those it has and those it creates later.</summary>
    public PrometheusText(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter, meter) || MetricFamily.Create(instrument) is not { } family) return;
            lock (_familiesLock) _families.Add(family);
            listener.EnableMeasurementEvents(instrument, family);
        };
        _listener.SetMeasurementEventCallback<long>((_, v, tags, state) => ((MetricFamily)state!).Record(v, v, tags));
        _listener.SetMeasurementEventCallback<int>((_, v, tags, state) => ((MetricFamily)state!).Record(v, v, tags));
        _listener.SetMeasurementEventCallback<short>((_, v, tags, state) => ((MetricFamily)state!).Record(v, v, tags));
        _listener.SetMeasurementEventCallback<byte>((_, v, tags, state) => ((MetricFamily)state!).Record(v, v, tags));
        _listener.SetMeasurementEventCallback<double>((_, v, tags, state) => ((MetricFamily)state!).Record((long)v, v, tags));
        _listener.SetMeasurementEventCallback<float>((_, v, tags, state) => ((MetricFamily)state!).Record((long)v, v, tags));
        _listener.SetMeasurementEventCallback<decimal>((_, v, tags, state) => ((MetricFamily)state!).Record((long)v, (double)v, tags));
        _listener.Start();
    }

    /// <summary>Reads the observable instruments now and returns the exposition text of every instrument.</summary>
    public string Render()
    {
        lock (_renderLock)
        {
            MetricFamily[] families;
            lock (_familiesLock) families = [.. _families];
            foreach (var family in families) family.BeginScrape();
            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (var family in families) family.Write(text);
            return text.ToString();
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();

    /// <summary>
    /// The Prometheus name of an instrument, by OpenTelemetry's mapping: characters outside <c>[a-zA-Z0-9_:]</c> become
    /// <c>_</c> (runs of <c>_</c> collapse, a leading digit gets a <c>_</c> before it), the unit is appended as a word
    /// (<c>s</c> → <c>_seconds</c>, <c>By</c> → <c>_bytes</c>; annotations such as <c>{delta}</c> are dropped) unless the
    /// name already has it, and a counter ends in <c>_total</c>: <c>cl.aggregator.deltas.accepted</c> →
    /// <c>cl_aggregator_deltas_accepted_total</c>. A name that already follows the Prometheus conventions is unchanged.
    /// </summary>
    public static string MetricName(string name, string? unit, bool counter)
    {
        ArgumentNullException.ThrowIfNull(name);
        var result = Clean(name, allowColon: true);
        if (UnitWord(unit) is { Length: > 0 } word && !HasSegment(result, word)) result += "_" + word;
        if (counter && !result.EndsWith("_total", StringComparison.Ordinal)) result += "_total";
        return result;
    }

    /// <summary>A label name: characters outside <c>[a-zA-Z0-9_]</c> become <c>_</c> (<c>cl.rejection.reason</c> → <c>cl_rejection_reason</c>).</summary>
    public static string LabelName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Clean(name, allowColon: false);
    }

    /// <summary>A value as Prometheus writes it: shortest round-trip form, <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>.</summary>
    public static string Number(double v) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A label value with backslash, double quote and newline escaped (exposition format rules).</summary>
    public static string Escape(string s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>HELP text escapes backslash and newline only.</summary>
    internal static string EscapeHelp(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>
    /// The label set of a measurement as <c>a="x",b="y"</c> (no braces). <paramref name="sorted"/> orders it by name, so
    /// the order of tags never splits an accumulated series; observed values keep the order their callback gave.
    /// </summary>
    internal static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags, bool sorted)
    {
        if (tags.IsEmpty) return "";
        var ordered = tags.ToArray();
        if (sorted && ordered.Length > 1) Array.Sort(ordered, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var labels = new StringBuilder();
        foreach (var (key, value) in ordered)
        {
            if (labels.Length > 0) labels.Append(',');
            labels.Append(LabelName(key)).Append("=\"").Append(Escape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return labels.ToString();
    }

    private static string Clean(string name, bool allowColon)
    {
        var text = new StringBuilder(name.Length + 1);
        if (name.Length > 0 && char.IsAsciiDigit(name[0])) text.Append('_');
        foreach (var c in name)
        {
            var legal = char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':');
            if (legal && c != '_') text.Append(c);
            else if (text.Length == 0 || text[^1] != '_') text.Append('_');
        }
        return text.Length == 0 ? "_" : text.ToString();
    }

    private static bool HasSegment(string name, string word) =>
        name == word || name.StartsWith(word + "_", StringComparison.Ordinal) || name.EndsWith("_" + word, StringComparison.Ordinal)
        || name.Contains("_" + word + "_", StringComparison.Ordinal);

    /// <summary>A UCUM unit as the word Prometheus names carry; empty for dimensionless units and pure annotations.</summary>
    private static string UnitWord(string? unit)
    {
        if (string.IsNullOrEmpty(unit)) return "";
        var bare = new StringBuilder(unit.Length);
        var depth = 0;
        foreach (var c in unit)
        {
            if (c == '{') depth++;
            else if (c == '}') depth = Math.Max(0, depth - 1);
            else if (depth == 0) bare.Append(c);
        }
        var text = bare.ToString().Trim();
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && slash < text.Length - 1)
            return Clean(Word(text[..slash]) + "_per_" + PerWord(text[(slash + 1)..]), allowColon: false);
        return Word(text) is { Length: > 0 } word ? Clean(word, allowColon: false) : "";
    }

    private static string Word(string unit) => unit switch
    {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "%" => "percent",
        "1" => "",
        _ => unit,
    };

    private static string PerWord(string unit) => unit switch
    {
        "s" => "second",
        "min" => "minute",
        "h" => "hour",
        "d" => "day",
        _ => unit,
    };
}
