using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using ContinualLearning.Device;
using ContinualLearning.Diagnostics;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Device;

/// <summary>One meter per runtime is the source of every device number: /metrics, status and any MeterListener agree.</summary>
public sealed partial class DeviceMetricsTests : IDisposable
{
    private static readonly string[] Counters =
    [
        "cl_predictions_total", "cl_samples_labelled_total", "cl_training_runs_total", "cl_training_seconds_total", "cl_promotions_total",
        "cl_drift_alarms_total", "cl_deltas_sent_total", "cl_deltas_dropped_total", "cl_releases_applied_total", "cl_releases_rejected_total",
        "cl_requests_rejected_total", "cl_commands_refused_total", "cl_payloads_oversize_total", "cl_samples_rate_limited_total", "cl_gc_collections_total", "cl_gc_allocated_bytes_total",
    ];

    private static readonly string[] Gauges =
    [
        "cl_queue_depth", "cl_queue_bytes", "cl_model_info", "cl_window_accuracy", "cl_paused", "cl_store_samples", "cl_replay_samples",
        "cl_mqtt_connected", "cl_gc_heap_bytes", "cl_gc_committed_bytes",
    ];

    private readonly DeviceTestKit _kit = new(brokerPort: 1);

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task Every_metric_is_exposed_with_its_type_and_counters_end_in_total()
    {
        await using var runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        var text = runtime.Metrics.RenderPrometheus();

        foreach (var name in Counters) Assert.Contains($"# TYPE {name} counter\n", text, StringComparison.Ordinal);
        foreach (var name in Gauges) Assert.Contains($"# TYPE {name} gauge\n", text, StringComparison.Ordinal);
        Assert.Equal(Counters.Length + Gauges.Length, TypeLine().Count(text));
        Assert.All(TypeLine().Matches(text), m => Assert.Equal(m.Groups[1].Value.EndsWith("_total", StringComparison.Ordinal), m.Groups[2].Value == "counter"));
        // No model yet: counts are zero, accuracy is NaN, and there is no model_info sample.
        Assert.Contains("cl_predictions_total 0\n", text, StringComparison.Ordinal);
        Assert.Contains("cl_window_accuracy NaN\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cl_model_info{", text, StringComparison.Ordinal);
        Assert.Contains("cl_mqtt_connected 0\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Learner_counts_are_observed_not_recounted_and_status_reads_the_same_numbers()
    {
        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0") };
        await using var runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        await runtime.OpenAsync();
        var rng = new Random(1);
        for (var i = 0; i < 30; i++)
        {
            var (x, y) = DeviceTestKit.Sea(rng);
            runtime.AddLabelled(x, y);
        }
        var served = runtime.Predict(DeviceTestKit.Sea(rng).Features);
        runtime.Label(served.SampleId, "UP");
        Assert.NotNull(await runtime.TrainNowAsync("test"));
        runtime.Metrics.CountRejectedRequest();

        var learner = runtime.Learner!.Counters;
        Assert.Equal((31, 31, 1), (learner.Predictions, learner.Labels, learner.TrainingRuns));
        Assert.Equal((learner.Predictions, learner.Labels, learner.TrainingRuns), (runtime.Metrics.Predictions, runtime.Metrics.Labels, runtime.Metrics.TrainingRuns));
        var text = runtime.Metrics.RenderPrometheus();
        Assert.Contains("cl_predictions_total 31\n", text, StringComparison.Ordinal);
        Assert.Contains("cl_samples_labelled_total 31\n", text, StringComparison.Ordinal);
        Assert.Contains("cl_training_runs_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("cl_requests_rejected_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("cl_model_info{model=\"sea\",version=\"", text, StringComparison.Ordinal);
        Assert.Contains($"cl_replay_samples {runtime.Learner.Status.ReplaySize}\n", text, StringComparison.Ordinal);
        Assert.Equal(learner.TrainingTime.TotalSeconds, double.Parse(Sample(text, "cl_training_seconds_total"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Any_listener_sees_the_same_meter_and_each_runtime_renders_only_its_own()
    {
        await using var first = new DeviceRuntime(_kit.Options, new ManagedEngine());
        await using var second = new DeviceRuntime(_kit.Options, new ManagedEngine());
        // What dotnet-counters or an OpenTelemetry exporter would read: the meter by name, each count as it happens.
        var seen = new List<long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, first.Metrics.Meter) && i.Name == "cl_releases_rejected_total") l.EnableMeasurementEvents(i);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, v, _, _) => seen.Add(v));
        listener.Start();
        first.Metrics.CountReleaseRejected();
        first.Metrics.CountReleaseRejected();
        second.Metrics.CountDeltasDropped(3);

        Assert.Contains("cl_releases_rejected_total 2\n", first.Metrics.RenderPrometheus(), StringComparison.Ordinal);
        Assert.Contains("cl_releases_rejected_total 0\n", second.Metrics.RenderPrometheus(), StringComparison.Ordinal);
        Assert.Contains("cl_deltas_dropped_total 3\n", second.Metrics.RenderPrometheus(), StringComparison.Ordinal);
        Assert.Equal([1L, 1L], seen);
        // The properties status reports read are the same counters, read back.
        Assert.Equal((2, 0), (first.Metrics.ReleasesRejected, first.Metrics.DeltasDropped));
        Assert.Equal((0, 3), (second.Metrics.ReleasesRejected, second.Metrics.DeltasDropped));
    }

    [Fact]
    public async Task The_exposition_keeps_every_name_and_type_dashboards_use()
    {
        // The exact families and their order, as /metrics served them before the counters moved onto Counter<long>.
        string[] expected =
        [
            "cl_predictions_total counter", "cl_samples_labelled_total counter", "cl_training_runs_total counter", "cl_training_seconds_total counter",
            "cl_promotions_total counter", "cl_drift_alarms_total counter", "cl_deltas_sent_total counter", "cl_deltas_dropped_total counter",
            "cl_releases_applied_total counter", "cl_releases_rejected_total counter", "cl_requests_rejected_total counter", "cl_commands_refused_total counter",
            "cl_payloads_oversize_total counter", "cl_samples_rate_limited_total counter", "cl_queue_depth gauge", "cl_queue_bytes gauge", "cl_model_info gauge",
            "cl_window_accuracy gauge", "cl_paused gauge", "cl_store_samples gauge", "cl_replay_samples gauge", "cl_mqtt_connected gauge",
            "cl_gc_heap_bytes gauge", "cl_gc_committed_bytes gauge", "cl_gc_collections_total counter", "cl_gc_allocated_bytes_total counter",
        ];
        await using var runtime = new DeviceRuntime(_kit.Options, new ManagedEngine());
        var text = runtime.Metrics.RenderPrometheus();

        Assert.Equal(expected, TypeLine().Matches(text).Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}"));
        foreach (var name in new[] { "cl_deltas_sent_total", "cl_deltas_dropped_total", "cl_releases_applied_total", "cl_releases_rejected_total",
            "cl_requests_rejected_total", "cl_commands_refused_total", "cl_payloads_oversize_total", "cl_samples_rate_limited_total" })
            Assert.Contains($"\n{name} 0\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(0.1, "0.1")]
    [InlineData(3, "3")]
    public void Numbers_are_written_as_prometheus_reads_them(double value, string text) => Assert.Equal(text, PrometheusText.Number(value));

    [Fact]
    public void Label_values_escape_backslash_quote_and_newline()
    {
        using var meter = new Meter("test-" + Guid.NewGuid().ToString("N"));
        meter.CreateObservableGauge("g", () => new Measurement<long>(1, new KeyValuePair<string, object?>("v", "a\\b\"c\nd")), description: "a gauge");
        meter.CreateObservableCounter("c_total", () => 2.5, description: "a counter");
        using var text = new PrometheusText(meter);

        Assert.Equal("# HELP g a gauge\n# TYPE g gauge\ng{v=\"a\\\\b\\\"c\\nd\"} 1\n# HELP c_total a counter\n# TYPE c_total counter\nc_total 2.5\n", text.Render());
    }

    private static string Sample(string text, string name) => Regex.Match(text, $"^{name} (.+)$", RegexOptions.Multiline).Groups[1].Value;

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();
}
