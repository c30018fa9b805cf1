using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The device table at 10,000 devices: paging through a sort gives every device once in the sorted order, search finds
/// exactly the matching ones. Correctness only; the time a query takes is not asserted.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleScaleTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private const int Devices = 10_000;

    [Fact]
    public async Task Paging_sort_and_search_over_ten_thousand_devices_are_exact()
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet);
        var now = DateTimeOffset.UtcNow;
        var accuracy = new Dictionary<string, double>();
        for (var i = 0; i < Devices; i++)
        {
            var id = $"dev-{i:D5}";
            var status = new DeviceStatus { DeviceId = id, State = i % 7 == 0 ? DeviceState.Offline : DeviceState.Online, ModelVersion = i % 3 == 0 ? "1.1.0" : "1.0.0", Cohort = i % 10 == 0 ? "canary" : "all" };
            host.Service.ReceiveStatus(id, FleetJson.Serialize(status), now);
            // Accuracies repeat (100 distinct values), so the device id's tie-break decides the order within equal ones.
            if (i % 5 != 0)
            {
                accuracy[id] = (i * 37 % 100) / 100.0;
                host.Service.ReceiveTelemetry(id, new Telemetry { DeviceId = id, Accuracy = accuracy[id], ModelVersion = status.ModelVersion }, now);
            }
        }

        var expected = Enumerable.Range(0, Devices).Select(i => $"dev-{i:D5}")
            .OrderByDescending(id => accuracy.TryGetValue(id, out var a) ? a : double.NegativeInfinity).ThenBy(id => id, StringComparer.Ordinal).ToArray();
        var paged = new List<string>();
        for (var offset = 0; offset < Devices; offset += 500)
        {
            var page = await host.GetJsonAsync($"/api/v1/devices?sort=accuracy&order=desc&offset={offset}&limit=500");
            Assert.Equal(Devices, page.GetProperty("total").GetInt32());
            paged.AddRange(page.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("deviceId").GetString()!));
        }
        Assert.Equal(expected, paged);

        var search = await host.GetJsonAsync("/api/v1/devices?search=DEV-0012&sort=deviceId&order=desc&limit=500");
        Assert.Equal(Enumerable.Range(120, 10).Reverse().Select(i => $"dev-{i:D5}"), search.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("deviceId").GetString()));
        var canary = await host.GetJsonAsync("/api/v1/devices?search=canary&limit=1");
        Assert.Equal(Devices / 10, canary.GetProperty("total").GetInt32());
        var byVersion = await host.GetJsonAsync("/api/v1/devices?search=1.1.0&sort=lastSeen&offset=3300&limit=100");
        Assert.Equal((3334, 34), (byVersion.GetProperty("total").GetInt32(), byVersion.GetProperty("items").GetArrayLength()));

        var overview = (await host.GetJsonAsync("/api/v1/overview")).GetProperty("devices");
        Assert.Equal((Devices, Devices - 1429), (overview.GetProperty("total").GetInt32(), overview.GetProperty("online").GetInt32()));
        Assert.Equal(3334, overview.GetProperty("byVersion").GetProperty("1.1.0").GetInt32());
    }
}
