using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ContinualLearning.Tests.Chaos;

/// <summary>The aggregator.json of one chaos instance (keys of docs/aggregator.md).</summary>
internal static class ChaosConfig
{
    /// <summary>
    /// A shared subscription; K = 100, or after 2 s whatever is buffered (so the tail gets aggregated); a canary of the
    /// named devices with a 10 s window and 3 reports from 2 devices; bounds high enough that an honest run refuses
    /// nothing for size or staleness, and every rejection recorded (no throttle) so the audit can name each drop.
    /// </summary>
    public static string Aggregator(string instanceId, string directory, int brokerPort, ChaosRegistry registry, IReadOnlyList<string> canaryDevices)
    {
        static string S(int value) => value.ToString(CultureInfo.InvariantCulture);
        var config = new JsonObject
        {
            ["fleet"] = ChaosFleet.Fleet,
            ["modelName"] = AggregatorTestKit.Model,
            ["registryPath"] = ChaosRegistry.RegistryPathFor(directory),
            ["privateKeyPath"] = Path.Combine(directory, "release.key"),
            ["brokerHost"] = "127.0.0.1",
            ["brokerPort"] = S(brokerPort),
            ["instanceId"] = instanceId,
            ["sharedSubscription"] = "true",
            ["tick"] = "00:00:00.200",
            ["validation"] = new JsonObject { ["maxStaleness"] = "1000" },
            ["aggregation"] = new JsonObject
            {
                ["bufferSize"] = "100",
                ["maxWait"] = "00:00:02",
                ["minDeltas"] = "1",
                ["minDevices"] = "1",
                ["maxPending"] = "100000",
                ["maxPendingPerDevice"] = "100000",
            },
            ["rollout"] = new JsonObject
            {
                ["canary"] = "true",
                ["canaryDevices"] = new JsonArray(canaryDevices.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["window"] = "00:00:10",
                ["minReports"] = "3",
                ["minDevices"] = "2",
            },
            ["registry"] = new JsonObject { ["connectionString"] = registry.ConnectionString },
            ["retention"] = new JsonObject { ["rejectionBurst"] = "1000000", ["rejectionsPerMinute"] = "1000000", ["rejectionsMaxRows"] = "1000000" },
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
