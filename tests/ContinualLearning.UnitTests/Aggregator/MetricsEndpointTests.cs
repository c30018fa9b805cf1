using System.Net;
using System.Text.RegularExpressions;
using ContinualLearning.Aggregator;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// A running aggregator's metrics:listen endpoint over real HTTP: /metrics counts what the service counts, /health follows
/// the broker connection. Uses its own embedded broker because it stops and restarts it.
/// </summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly EmbeddedBroker _broker = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string _fleet = "t" + Guid.NewGuid().ToString("N")[..10];
    private AggregatorHostedService? _host;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _host = new AggregatorHostedService(
            _kit.Options(_broker.Port, _fleet, configure: o => o with { Metrics = new MetricsOptions { Listen = "127.0.0.1:0" } }), NullLogger<AggregatorService>.Instance);
        await _host.StartAsync(TestContext.Current.CancellationToken);
        _http.BaseAddress = _host.MetricsAddress;
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync(CancellationToken.None);
            await _host.DisposeAsync();
        }
        await _broker.StopAsync();
        _http.Dispose();
        _kit.Dispose();
    }

    [Fact]
    public async Task Metrics_count_a_delta_accepted_over_mqtt()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.Equal("127.0.0.1", _host!.MetricsAddress!.Host);
        Assert.NotEqual(0, _host.MetricsAddress.Port);
        using var before = await _http.GetAsync(new Uri("/metrics", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", before.Content.Headers.ContentType!.ToString());
        var text = await before.Content.ReadAsStringAsync(ct);
        Assert.Contains("# TYPE cl_aggregator_deltas_accepted_total counter\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\ncl_aggregator_deltas_accepted_total ", text, StringComparison.Ordinal);

        await using var device = new FleetMqttClient(new FleetMqttClientOptions { ClientId = _fleet + "-dev", Port = _broker.Port });
        await device.StartAsync(ct);
        await device.PublishAsync(FleetTopics.DeltaTopic(_fleet, "d1"), _kit.EncodeDelta("d1"), cancellationToken: ct);
        await WaitUntil(() => _host.Service.Counters.Accepted == 1);

        text = await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        Assert.Contains("\ncl_aggregator_deltas_accepted_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_broker_connected 1\n", text, StringComparison.Ordinal);
        Assert.Contains("\ncl_aggregator_canary_state 0\n", text, StringComparison.Ordinal);
        // Every tick (100 ms here) runs the aggregation transaction: the registry's round latency is recorded.
        await WaitUntil(
            c => _http.GetStringAsync(new Uri("/metrics", UriKind.Relative), c),
            t => Regex.IsMatch(t, @"\ncl_aggregator_registry_duration_seconds_count\{cl_registry_operation=""round""\} [1-9]\d*\n"),
            "the round's registry latency in /metrics");
    }

    [Fact]
    public async Task Health_is_503_with_a_reason_while_the_broker_is_down_and_200_when_it_is_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var (status, body) = await HealthAsync(ct);
        Assert.Equal((HttpStatusCode.OK, "ok\n"), (status, body));

        await _broker.StopAsync();
        (status, body) = await WaitUntil(HealthAsync, r => r.Status == HttpStatusCode.ServiceUnavailable, "/health answers 503 with the broker stopped");
        Assert.Equal("broker: the inbox is not connected to the MQTT broker (reconnecting)\n", body);
        Assert.Contains("\ncl_aggregator_broker_connected 0\n", await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct), StringComparison.Ordinal);

        await _broker.StartAsync();
        (status, body) = await WaitUntil(HealthAsync, r => r.Status == HttpStatusCode.OK, "/health answers 200 after the broker restarted");
        Assert.Equal("ok\n", body);
    }

    private async Task<(HttpStatusCode Status, string Body)> HealthAsync(CancellationToken ct)
    {
        using var response = await _http.GetAsync(new Uri("/health", UriKind.Relative), ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }
}
