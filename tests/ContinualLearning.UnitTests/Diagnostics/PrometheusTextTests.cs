using System.Diagnostics.Metrics;
using ContinualLearning.Diagnostics;

namespace ContinualLearning.UnitTests.Diagnostics;

/// <summary>The exposition text Prometheus scrapes: names, types, accumulation per label set, histogram buckets, escaping.</summary>
public sealed class PrometheusTextTests : IDisposable
{
    private readonly Meter _meter = new("test-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void Counters_accumulate_per_label_set_whatever_the_tag_order_and_get_OpenTelemetry_names()
    {
        var accepted = _meter.CreateCounter<long>("cl.aggregator.deltas.accepted", "{delta}", "Deltas accepted.");
        var rejected = _meter.CreateCounter<long>("cl.aggregator.deltas.rejected", "{delta}", "Deltas refused, by reason.");
        using var text = new PrometheusText(_meter);

        accepted.Add(2);
        accepted.Add(3);
        rejected.Add(1, new("cl.rejection.reason", "too-stale"), new("kind", "a"));
        rejected.Add(4, new("kind", "a"), new("cl.rejection.reason", "too-stale"));
        rejected.Add(1, new("cl.rejection.reason", "duplicate"), new("kind", "a"));

        Assert.Equal(
            "# HELP cl_aggregator_deltas_accepted_total Deltas accepted.\n" +
            "# TYPE cl_aggregator_deltas_accepted_total counter\n" +
            "cl_aggregator_deltas_accepted_total 5\n" +
            "# HELP cl_aggregator_deltas_rejected_total Deltas refused, by reason.\n" +
            "# TYPE cl_aggregator_deltas_rejected_total counter\n" +
            "cl_aggregator_deltas_rejected_total{cl_rejection_reason=\"too-stale\",kind=\"a\"} 5\n" +
            "cl_aggregator_deltas_rejected_total{cl_rejection_reason=\"duplicate\",kind=\"a\"} 1\n",
            text.Render());
        // Cumulative: a second scrape sees the same totals plus what came since.
        accepted.Add(1);
        Assert.Contains("cl_aggregator_deltas_accepted_total 6\n", text.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public void Histograms_write_cumulative_buckets_sum_and_count_with_the_advised_bounds()
    {
        var duration = _meter.CreateHistogram("cl.round.duration", "s", "Round time.", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] });
        var size = _meter.CreateHistogram<int>("batch.size", "{delta}", "Batch size.");
        using var text = new PrometheusText(_meter);

        foreach (var v in new[] { 0.05, 0.1, 0.5, 2, 20 }) duration.Record(v, new KeyValuePair<string, object?>("op", "round"));
        size.Record(3);

        Assert.Equal(
            "# HELP cl_round_duration_seconds Round time.\n" +
            "# TYPE cl_round_duration_seconds histogram\n" +
            "cl_round_duration_seconds_bucket{op=\"round\",le=\"0.1\"} 2\n" +
            "cl_round_duration_seconds_bucket{op=\"round\",le=\"1\"} 3\n" +
            "cl_round_duration_seconds_bucket{op=\"round\",le=\"10\"} 4\n" +
            "cl_round_duration_seconds_bucket{op=\"round\",le=\"+Inf\"} 5\n" +
            "cl_round_duration_seconds_sum{op=\"round\"} 22.65\n" +
            "cl_round_duration_seconds_count{op=\"round\"} 5\n" +
            "# HELP batch_size Batch size.\n" +
            "# TYPE batch_size histogram\n" +
            string.Concat(PrometheusText.DefaultBuckets.Select(b => $"batch_size_bucket{{le=\"{PrometheusText.Number(b)}\"}} {(b >= 3 ? 1 : 0)}\n")) +
            "batch_size_bucket{le=\"+Inf\"} 1\n" +
            "batch_size_sum 3\n" +
            "batch_size_count 1\n",
            text.Render());
    }

    [Fact]
    public void Up_down_counters_and_gauges_are_gauges_observables_are_read_at_each_scrape()
    {
        var inFlight = _meter.CreateUpDownCounter<int>("in.flight");
        var last = _meter.CreateGauge<double>("last.value", "By");
        var reading = 1;
        _meter.CreateObservableGauge("observed", () => reading);
        _meter.CreateObservableUpDownCounter("observed.sum", () => 2L * reading);
        using var text = new PrometheusText(_meter);

        inFlight.Add(5);
        inFlight.Add(-2);
        last.Record(7);
        last.Record(1.5);
        Assert.Equal(
            "# HELP in_flight \n# TYPE in_flight gauge\nin_flight 3\n" +
            "# HELP last_value_bytes \n# TYPE last_value_bytes gauge\nlast_value_bytes 1.5\n" +
            "# HELP observed \n# TYPE observed gauge\nobserved 1\n" +
            "# HELP observed_sum \n# TYPE observed_sum gauge\nobserved_sum 2\n",
            text.Render());
        reading = 4;
        var again = text.Render();
        Assert.Contains("\nobserved 4\n", again, StringComparison.Ordinal);
        Assert.Contains("\nobserved_sum 8\n", again, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cl.aggregator.deltas.accepted", "{delta}", true, "cl_aggregator_deltas_accepted_total")]
    [InlineData("cl.aggregator.round.duration", "s", false, "cl_aggregator_round_duration_seconds")]
    [InlineData("cl_training_seconds_total", "s", true, "cl_training_seconds_total")]
    [InlineData("cl_predictions_total", null, true, "cl_predictions_total")]
    [InlineData("cl_queue_bytes", null, false, "cl_queue_bytes")]
    [InlineData("http.server.request-size", "By", false, "http_server_request_size_bytes")]
    [InlineData("9lives..odd name", "ms", false, "_9lives_odd_name_milliseconds")]
    [InlineData("net.io", "By/s", true, "net_io_bytes_per_second_total")]
    [InlineData("ratio", "1", false, "ratio")]
    [InlineData("ns:metric", null, false, "ns:metric")]
    public void Names_follow_the_OpenTelemetry_mapping_and_legal_names_stay(string name, string? unit, bool counter, string expected) =>
        Assert.Equal(expected, PrometheusText.MetricName(name, unit, counter));

    [Fact]
    public void Label_names_are_cleaned_and_values_and_help_escaped()
    {
        var counter = _meter.CreateCounter<long>("c", description: "line one\nback\\slash");
        using var text = new PrometheusText(_meter);

        counter.Add(1, new KeyValuePair<string, object?>("error.type", "a\\b\"c\nd"), new KeyValuePair<string, object?>("n", 3));

        Assert.Equal(
            "# HELP c_total line one\\nback\\\\slash\n# TYPE c_total counter\nc_total{error_type=\"a\\\\b\\\"c\\nd\",n=\"3\"} 1\n",
            text.Render());
    }

    [Fact]
    public async Task Measurements_from_many_threads_are_all_counted_while_scrapes_run()
    {
        var counter = _meter.CreateCounter<long>("hits");
        var histogram = _meter.CreateHistogram<double>("latency", "s");
        using var text = new PrometheusText(_meter);

        var scraper = Task.Run(() =>
        {
            for (var i = 0; i < 50; i++) text.Render();
        });
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                counter.Add(1, new KeyValuePair<string, object?>("k", i % 2 == 0 ? "even" : "odd"));
                histogram.Record(0.001);
            }
        });
        await scraper;

        var rendered = text.Render();
        Assert.Contains("hits_total{k=\"even\"} 40000\nhits_total{k=\"odd\"} 40000\n", rendered, StringComparison.Ordinal);
        Assert.Contains("latency_seconds_count 80000\n", rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_its_own_meter_is_rendered_and_counts_made_before_it_existed_are_not_claimed()
    {
        using var other = new Meter(_meter.Name);
        var mine = _meter.CreateCounter<long>("mine");
        other.CreateCounter<long>("theirs").Add(1);
        mine.Add(7);
        using var text = new PrometheusText(_meter);

        mine.Add(1);

        Assert.Equal("# HELP mine_total \n# TYPE mine_total counter\nmine_total 1\n", text.Render());
    }
}
