using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// Renders one <see cref="Meter"/> in the Prometheus text exposition format (version 0.0.4), read through a
/// <see cref="MeterListener"/>: a HELP and a TYPE line per instrument, in the order the instruments were created, then
/// one sample per measurement with its tags as labels. Observable counters are typed <c>counter</c>, observable gauges
/// and up-down counters <c>gauge</c>.
/// </summary>
/// <remarks>
/// Not the OpenTelemetry Prometheus exporter: it is still a prerelease (1.20.1-beta.1), and it brings the OpenTelemetry
/// SDK and an HTTP listener into the native-AOT daemon, whose budget is 80 MB of RSS. This renderer is what the
/// daemon needs from it. Only observable instruments are rendered: the device meter has no others (every number it
/// exposes is a count or a reading some part already holds), so nothing needs aggregating between scrapes.
/// </remarks>
internal sealed class PrometheusText : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<Instrument> _instruments = [];
    private readonly Dictionary<Instrument, List<Sample>> _samples = [];
    private readonly Lock _lock = new();

    public PrometheusText(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!ReferenceEquals(instrument.Meter, meter) || !instrument.IsObservable) return;
            lock (_lock) _instruments.Add(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, Integer(v), tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, Integer(v), tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, Number(v), tags));
        _listener.Start();
    }

    /// <summary>Observes every instrument now and returns the exposition text.</summary>
    public string Render()
    {
        lock (_lock)
        {
            foreach (var samples in _samples.Values) samples.Clear();
            _listener.RecordObservableInstruments();
            var text = new StringBuilder(2048);
            foreach (var instrument in _instruments)
            {
                var name = instrument.Name;
                var type = instrument is ObservableCounter<long> or ObservableCounter<double> or ObservableCounter<int> ? "counter" : "gauge";
                text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {instrument.Description}\n# TYPE {name} {type}\n");
                if (!_samples.TryGetValue(instrument, out var samples)) continue;
                foreach (var sample in samples) text.Append(name).Append(sample.Labels).Append(' ').Append(sample.Value).Append('\n');
            }
            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>A value as Prometheus writes it: shortest round-trip form, <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>.</summary>
    internal static string Number(double v) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Label values escape backslash, double quote and newline (exposition format rules).</summary>
    internal static string Escape(string s) =>
        s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Integer(long v) => v.ToString(CultureInfo.InvariantCulture);

    // Called by RecordObservableInstruments on the thread that holds _lock.
    private void Add(Instrument instrument, string value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!_samples.TryGetValue(instrument, out var samples)) _samples[instrument] = samples = [];
        samples.Add(new Sample(Labels(tags), value));
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty) return "";
        var labels = new StringBuilder("{");
        foreach (var (key, value) in tags)
        {
            if (labels.Length > 1) labels.Append(',');
            labels.Append(key).Append("=\"").Append(Escape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return labels.Append('}').ToString();
    }

    private readonly record struct Sample(string Labels, string Value);
}
