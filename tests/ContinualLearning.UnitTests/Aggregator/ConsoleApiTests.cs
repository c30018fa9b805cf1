using System.Net;
using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The console's read API over real HTTP against a running aggregator on the embedded broker, with devices publishing
/// retained status and telemetry: every number equals what the directory, the telemetry and the registry hold.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleApiTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    [Fact]
    public async Task Overview_and_devices_count_what_the_devices_published()
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet);
        await host.PublishStatusAsync("d1");
        await host.PublishStatusAsync("d2", cohort: "canary");
        await host.PublishStatusAsync("d3", DeviceState.Offline);
        await host.PublishTelemetryAsync("d1", 0.9);
        await host.PublishTelemetryAsync("d2", 0.7, DriftState.Drift);
        await WaitUntil(() => host.Service.Devices.Count == 3 && host.Service.Console!.Telemetry.Get("d2") is not null);

        var overview = await host.GetJsonAsync("/api/v1/overview");
        var devices = overview.GetProperty("devices");
        Assert.Equal(Fleet, overview.GetProperty("fleet").GetString());
        Assert.Equal((3, 2, 1, 1), (devices.GetProperty("total").GetInt32(), devices.GetProperty("online").GetInt32(), devices.GetProperty("offline").GetInt32(),
            devices.GetProperty("driftPending").GetInt32()));
        Assert.Equal(3, devices.GetProperty("byVersion").GetProperty("1.0.0").GetInt32());
        Assert.Equal(2, devices.GetProperty("byCohort").GetProperty("all").GetInt32());
        Assert.Equal(1, devices.GetProperty("byCohort").GetProperty("canary").GetInt32());
        Assert.Equal("1.0.0", overview.GetProperty("latest").GetProperty("version").GetString());
        Assert.Equal(JsonValueKind.Null, overview.GetProperty("lastCanary").ValueKind);
        Assert.True(overview.GetProperty("aggregator").GetProperty("brokerConnected").GetBoolean());
        Assert.Equal("sqlite", overview.GetProperty("aggregator").GetProperty("registryBackend").GetString());

        var page = await host.GetJsonAsync("/api/v1/devices?sort=accuracy&order=desc");
        Assert.Equal(3, page.GetProperty("total").GetInt32());
        var items = page.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(["d1", "d2", "d3"], items.Select(i => i.GetProperty("deviceId").GetString()));
        Assert.Equal(0.9, items[0].GetProperty("accuracy").GetDouble());
        Assert.Equal("drift", items[1].GetProperty("drift").GetString());
        Assert.Equal("adwin", items[1].GetProperty("driftDetector").GetString());
        Assert.Equal("managed", items[0].GetProperty("engine").GetString());
        Assert.Equal(JsonValueKind.Null, items[2].GetProperty("accuracy").ValueKind);

        var d2 = await host.GetJsonAsync("/api/v1/devices/d2");
        Assert.Equal(0.7, d2.GetProperty("recentAccuracy")[0].GetProperty("accuracy").GetDouble());
        Assert.Equal("d2", d2.GetProperty("recentDrift")[0].GetProperty("deviceId").GetString());
        var drift = await host.GetJsonAsync("/api/v1/drift?hours=1");
        Assert.Equal("d2", Assert.Single(drift.EnumerateArray()).GetProperty("deviceId").GetString());
        var accuracy = await host.GetJsonAsync("/api/v1/accuracy");
        var minute = Assert.Single(accuracy.EnumerateArray());
        Assert.Equal((0.8, 2), (Math.Round(minute.GetProperty("accuracy").GetDouble(), 6), minute.GetProperty("devices").GetInt32()));

        using var missing = await host.Http.GetAsync(new Uri("/api/v1/devices/nobody", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Versions_equal_the_registry_after_an_aggregation()
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet, o => o with { Rollout = o.Rollout with { Canary = false } });
        Assert.True(host.Service.Receive("d1", host.Kit.EncodeDelta("d1")).Accepted);
        Assert.True(host.Service.Receive("d2", host.Kit.EncodeDelta("d2")).Accepted);
        var created = await host.Service.AggregateAsync(force: true, TestContext.Current.CancellationToken);
        Assert.NotNull(created);

        var versions = (await host.GetJsonAsync("/api/v1/versions")).EnumerateArray().ToArray();
        var registry = host.Service.Registry.ListVersions(AggregatorTestKit.Model).Reverse().ToArray();
        Assert.Equal(registry.Select(v => (v.Version, v.Status)), versions.Select(v => (v.GetProperty("version").GetString()!, v.GetProperty("status").GetString()!)));
        Assert.Equal(2, versions[0].GetProperty("deltaCount").GetInt32());
        Assert.Equal(2, versions[0].GetProperty("deviceCount").GetInt32());

        var detail = await host.GetJsonAsync($"/api/v1/versions/{created.Version}");
        Assert.Equal(["1.0.0", created.Version], detail.GetProperty("lineage").EnumerateArray().Select(l => l.GetProperty("version").GetString()));
        Assert.Equal(["d1", "d2"], detail.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(created.DeltaIds, detail.GetProperty("deltas").EnumerateArray().Select(d => d.GetProperty("deltaId").GetString()));
        var decisions = detail.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("kind").GetString()).ToArray();
        Assert.Equal(host.Service.Registry.Decisions.List(AggregatorTestKit.Model, created.Version).Select(d => d.Decision.ToText()), decisions);
        Assert.Contains("released", decisions);

        using var missing = await host.Http.GetAsync(new Uri("/api/v1/versions/9.9.9", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var health = await host.GetJsonAsync("/api/v1/health");
        Assert.True(health.GetProperty("healthy").GetBoolean());
    }

    [Theory]
    [InlineData("/api/v1/devices?sort=colour", "sort")]
    [InlineData("/api/v1/devices?order=up", "order")]
    [InlineData("/api/v1/devices?limit=501", "limit")]
    [InlineData("/api/v1/devices?limit=0", "limit")]
    [InlineData("/api/v1/devices?offset=-1", "offset")]
    [InlineData("/api/v1/devices?offset=ten", "offset")]
    [InlineData("/api/v1/accuracy?hours=0", "hours")]
    [InlineData("/api/v1/drift?hours=100000", "hours")]
    [InlineData("/api/v1/rejections?limit=x", "limit")]
    [InlineData("/api/v1/audit?limit=1001", "limit")]
    public async Task A_bad_query_value_is_a_400_naming_the_parameter(string path, string parameter)
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet);
        using var response = await host.Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
        Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
        Assert.Contains(parameter, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
