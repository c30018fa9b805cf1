using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The console under concept-aware aggregation, against a running aggregator whose real rounds split the fleet into
/// two cluster models (<see cref="AggregatorTestKit.SplitIntoTwoClustersAsync"/>): the clusters, their versions and each
/// device's cluster as the registry holds them; rollback and publish of a cluster model only with the operator's token
/// and only for a live cluster model of this fleet, through the same release logic as <c>cl model rollback --model</c>.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ConsoleClusterTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private const string Model = AggregatorTestKit.Model;
    private const string Cluster1 = Model + ".c1";

    [Fact]
    public async Task Clusters_versions_and_devices_show_what_the_registry_holds()
    {
        await using var host = await StartSplitAsync();
        var registry = host.Service.Registry;

        var list = await host.GetJsonAsync("/api/v1/clusters");
        Assert.Equal((Model, true, 2), (list.GetProperty("model").GetString(), list.GetProperty("clustering").GetBoolean(), list.GetProperty("live").GetInt32()));
        var clusters = list.GetProperty("clusters").EnumerateArray().ToArray();
        Assert.Equal([(0, Model), (1, Cluster1)], clusters.Select(c => (c.GetProperty("cluster").GetInt32(), c.GetProperty("model").GetString())));
        var c1 = clusters[1];
        var stored = registry.Clusters.ByModel(Cluster1)!;
        Assert.Equal(("live", Model, "1.0.0", "b1", stored.CreatedRound),
            (c1.GetProperty("state").GetString(), c1.GetProperty("parentModel").GetString(), c1.GetProperty("parentVersion").GetString(), c1.GetProperty("creatorDevice").GetString(),
                c1.GetProperty("createdRound").GetInt32()));
        Assert.Equal((registry.Latest(Cluster1, VersionStatus.Released)!.Version, registry.Newest(Cluster1)!.Version), (c1.GetProperty("release").GetString(), c1.GetProperty("newest").GetString()));
        Assert.Equal("1.1.0", c1.GetProperty("release").GetString());
        Assert.Equal("1.2.0", clusters[0].GetProperty("release").GetString());
        // b1–b3 are assigned to cluster 1 (b3 is offline), a1–a3 and the device the clustering never heard of to cluster 0.
        Assert.Equal((3, 2), (c1.GetProperty("devices").GetInt32(), c1.GetProperty("online").GetInt32()));
        Assert.Equal((4, 4), (clusters[0].GetProperty("devices").GetInt32(), clusters[0].GetProperty("online").GetInt32()));
        Assert.Equal(2, (await host.GetJsonAsync("/api/v1/overview")).GetProperty("clusters").GetInt32());

        Assert.Equal(["1.1.0", "1.0.0"], (await host.GetJsonAsync($"/api/v1/versions?model={Cluster1}")).EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        Assert.Equal(["1.2.0", "1.1.0", "1.0.0"], (await host.GetJsonAsync($"/api/v1/versions?model={Model}")).EnumerateArray().Select(v => v.GetProperty("version").GetString()));
        var first = await host.GetJsonAsync($"/api/v1/versions/1.0.0?model={Cluster1}");
        Assert.Equal(["b1"], first.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal("cluster-created", first.GetProperty("decisions")[0].GetProperty("kind").GetString());
        foreach (var path in new[] { "/api/v1/versions?model=other", $"/api/v1/versions/1.0.0?model={Model}.c7", "/api/v1/versions?model=other.c1" })
        {
            using var response = await host.Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.Equal(400, (int)response.StatusCode);
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
            Assert.Equal("model", problem.GetProperty("parameter").GetString());
            Assert.Contains(Cluster1, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using (var missing = await host.Http.GetAsync(new Uri($"/api/v1/versions/1.2.0?model={Cluster1}", UriKind.Relative), TestContext.Current.CancellationToken))
            Assert.Equal(404, (int)missing.StatusCode);

        Assert.Equal(1, (await host.GetJsonAsync("/api/v1/devices/b2")).GetProperty("cluster").GetInt32());
        Assert.Equal(0, (await host.GetJsonAsync("/api/v1/devices/a1")).GetProperty("cluster").GetInt32());
        var rows = (await host.GetJsonAsync("/api/v1/devices?limit=50")).GetProperty("items").EnumerateArray()
            .ToDictionary(d => d.GetProperty("deviceId").GetString()!, d => d.GetProperty("cluster").GetInt32());
        Assert.Equal(new Dictionary<string, int> { ["a1"] = 0, ["a2"] = 0, ["a3"] = 0, ["b1"] = 1, ["b2"] = 1, ["b3"] = 1, ["x1"] = 0 }, rows);
    }

    [Fact]
    public async Task Rollback_of_a_cluster_model_needs_the_token_and_a_live_cluster_of_this_fleet_and_is_audited()
    {
        await using var host = await StartSplitAsync();
        var registry = host.Service.Registry;
        var path = $"/api/v1/versions/1.0.0/rollback?model={Cluster1}";

        Assert.Equal(401, (await host.PostAsync(path, token: null)).Status);
        Assert.Equal(403, (await host.PostAsync(path, token: "guess-" + ConsoleTestHost.Token)).Status);
        // Another model, a cluster model of another base, a cluster that never existed: refused with the value named, nothing changes.
        foreach (var model in new[] { "other", "other.c1", Model + ".c7" })
        {
            var (status, problem) = await host.PostAsync($"/api/v1/versions/1.0.0/rollback?model={model}", ConsoleTestHost.Token);
            Assert.Equal(400, status);
            Assert.Contains($"'{model}'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(VersionStatus.Released, registry.GetVersion(Cluster1, "1.1.0")!.Status);
        Assert.DoesNotContain(registry.Decisions.List(Cluster1), d => d.Decision == DecisionKind.ManualRollback);

        var (ok, body) = await host.PostAsync(path, ConsoleTestHost.Token);
        Assert.Equal(200, ok);
        Assert.Equal((Cluster1, "1.0.0"), (body.GetProperty("model").GetString(), body.GetProperty("version").GetString()));
        Assert.Equal(["1.1.0"], body.GetProperty("rolledBack").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(VersionStatus.RolledBack, registry.GetVersion(Cluster1, "1.1.0")!.Status);
        var decision = registry.Decisions.List(Cluster1, "1.0.0")[^1];
        Assert.Equal(DecisionKind.ManualRollback, decision.Decision);
        Assert.Contains(ConsoleTestHost.Operator, decision.Reason, StringComparison.Ordinal);
        // The release of sea.c1 went out through its own rollout's outbox; the configured model's release is untouched.
        Assert.Empty(registry.Releases.Unsent(Cluster1));
        Assert.Equal(("1.0.0", Cohorts.All), (registry.Releases.List(Cluster1)[^1].Version, registry.Releases.List(Cluster1)[^1].Cohort));
        Assert.Equal("1.2.0", registry.Latest(Model, VersionStatus.Released)!.Version);
        Assert.Equal("1.0.0", (await host.GetJsonAsync("/api/v1/clusters")).GetProperty("clusters")[1].GetProperty("release").GetString());

        // Publish brings 1.1.0 back, the same way.
        var (published, answer) = await host.PostAsync($"/api/v1/versions/1.1.0/publish?model={Cluster1}", ConsoleTestHost.Token);
        Assert.Equal(200, published);
        Assert.Equal(VersionStatus.RolledBack, answer.GetProperty("previousStatus").GetString());
        Assert.Equal(VersionStatus.Released, registry.GetVersion(Cluster1, "1.1.0")!.Status);

        // A retired cluster (as the clustering step retires one) is history: readable, not released any more.
        Assert.True(registry.Clusters.Retire(Model, 1, DateTimeOffset.UtcNow, mergedInto: 0));
        var (refused, why) = await host.PostAsync($"/api/v1/versions/1.0.0/rollback?model={Cluster1}", ConsoleTestHost.Token);
        Assert.Equal(400, refused);
        Assert.Contains("retired cluster 1 (merged into cluster 0)", why.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(VersionStatus.Released, registry.GetVersion(Cluster1, "1.1.0")!.Status);
        var retired = (await host.GetJsonAsync("/api/v1/clusters")).GetProperty("clusters")[1];
        Assert.Equal(("retired", 0, 0), (retired.GetProperty("state").GetString(), retired.GetProperty("mergedInto").GetInt32(), retired.GetProperty("devices").GetInt32()));
        Assert.Equal(2, (await host.GetJsonAsync($"/api/v1/versions?model={Cluster1}")).GetArrayLength());

        var audit = registry.Audit.Recent(20);
        Assert.Equal(
            [("rollback", "refused"), ("publish", "done"), ("rollback", "done"), ("rollback", "refused"), ("rollback", "refused"), ("rollback", "refused"), ("rollback", "forbidden"), ("rollback", "unauthenticated")],
            audit.Select(a => (a.Action, a.Outcome)));
        // The audit row names the model acted on (and the one refused).
        Assert.Equal(
            [$"{Cluster1} 1.0.0", $"{Cluster1} 1.1.0", $"{Cluster1} 1.0.0", $"{Model}.c7 1.0.0", "other.c1 1.0.0", "other 1.0.0", $"{Cluster1} 1.0.0", $"{Cluster1} 1.0.0"],
            audit.Select(a => a.Target));
    }

    [Fact]
    public async Task With_clustering_off_there_are_no_clusters_and_only_the_configured_model()
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet);
        await host.PublishStatusAsync("d1");
        await WaitUntil(() => host.Service.Devices.Count == 1);

        var list = await host.GetJsonAsync("/api/v1/clusters");
        Assert.False(list.GetProperty("clustering").GetBoolean());
        Assert.Equal(0, list.GetProperty("clusters").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, (await host.GetJsonAsync("/api/v1/overview")).GetProperty("clusters").ValueKind);
        Assert.Equal(JsonValueKind.Null, (await host.GetJsonAsync("/api/v1/devices/d1")).GetProperty("cluster").ValueKind);
        Assert.Equal(1, (await host.GetJsonAsync($"/api/v1/versions?model={Model}")).GetArrayLength());
        using (var response = await host.Http.GetAsync(new Uri($"/api/v1/versions?model={Cluster1}", UriKind.Relative), TestContext.Current.CancellationToken))
            Assert.Equal(400, (int)response.StatusCode);
        var (status, problem) = await host.PostAsync($"/api/v1/versions/1.0.0/publish?model={Cluster1}", ConsoleTestHost.Token);
        Assert.Equal(400, status);
        Assert.Contains("clustering is off", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(($"{Cluster1} 1.0.0", "refused"), (host.Service.Registry.Audit.Recent(1)[0].Target, host.Service.Registry.Audit.Recent(1)[0].Outcome));
    }

    /// <summary>A console host with clustering on whose fleet two real rounds split; a1–a3, b1, b2 and x1 online, b3 offline.</summary>
    private async Task<ConsoleTestHost> StartSplitAsync()
    {
        var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet, AggregatorTestKit.WithClustering);
        foreach (var d in new[] { "a1", "a2", "a3", "b1", "b2", "x1" }) await host.PublishStatusAsync(d);
        await host.PublishStatusAsync("b3", DeviceState.Offline);
        await WaitUntil(() => host.Service.Devices.Count == 7);
        await host.Kit.SplitIntoTwoClustersAsync(host.Service, TestContext.Current.CancellationToken);
        return host;
    }
}
