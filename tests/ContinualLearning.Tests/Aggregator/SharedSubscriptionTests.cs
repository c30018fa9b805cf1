using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Tests.Aggregator;

public sealed class SharedSubscriptionTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForBrokerTests();

    public void Dispose() => _kit.Dispose();

    [MosquittoFact]
    public async Task Two_instances_split_the_stream_and_every_delta_is_aggregated_exactly_once()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        const string fleet = "share";
        const int devices = 60;
        // K = 7 makes ~8 releases from 60 deltas all based on 1.0.0: lift the staleness bound so none is refused for that.
        // MinDevices = 1: the last forced round of an instance may hold a single delta, which must still be aggregated.
        static AggregatorOptions Configure(AggregatorOptions o) => o with { Aggregation = o.Aggregation with { BufferSize = 7, MinDevices = 1 }, Validation = o.Validation with { MaxStaleness = 100 } };
        await using var a = new AggregatorService(_kit.Options(broker.Port, fleet, "agg-a", Configure));
        await using var b = new AggregatorService(_kit.Options(broker.Port, fleet, "agg-b", Configure));
        await a.StartAsync();
        await b.StartAsync();

        await using var publisher = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "sim-devices", Port = broker.Port });
        await publisher.StartAsync();
        var sent = new List<string>();
        for (var i = 0; i < devices; i++)
        {
            var id = Guid.NewGuid();
            sent.Add(id.ToString("D"));
            await publisher.PublishAsync(FleetTopics.DeltaTopic(fleet, $"d{i}"), _kit.EncodeDelta($"d{i}", id: id, value: 0.001f));
        }
        await WaitUntil(() => (A: a.Counters.Accepted, B: b.Counters.Accepted), n => n.A + n.B == devices, "both instances accepted every delta",
            describe: n => $"a: {n.A} accepted, {a.Counters.TotalRejected} rejected; b: {n.B} accepted, {b.Counters.TotalRejected} rejected");
        Assert.True(a.Counters.Accepted > 0 && b.Counters.Accepted > 0, $"the shared subscription should split the stream: a={a.Counters.Accepted}, b={b.Counters.Accepted}");
        Assert.Equal(0, a.Counters.TotalRejected + b.Counters.TotalRejected);
        await a.AggregateAsync(force: true);
        await b.AggregateAsync(force: true);

        var aggregated = a.Registry.ListVersions(AggregatorTestKit.Model).SelectMany(v => v.DeltaIds).ToArray();
        Assert.Equal(aggregated.Length, aggregated.Distinct().Count());
        Assert.Equal(sent.Order(), aggregated.Order());
        Assert.Equal(0, a.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        // Versions form one chain: each aggregation built on the newest release, whichever instance made it.
        var versions = a.Registry.ListVersions(AggregatorTestKit.Model);
        for (var i = 1; i < versions.Count; i++) Assert.Equal(versions[i - 1].Version, versions[i].Parent);
    }

    [MosquittoFact]
    public async Task An_aggregator_restart_mid_run_neither_loses_nor_double_counts_deltas()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        const string fleet = "restart";
        await using var publisher = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "sim-devices", Port = broker.Port });
        await publisher.StartAsync();
        var ids = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid()).ToArray();
        Task Send(int i) => publisher.PublishAsync(FleetTopics.DeltaTopic(fleet, $"d{i % 10}"), _kit.EncodeDelta($"d{i % 10}", id: ids[i], value: 0.001f));

        var first = new AggregatorService(_kit.Options(broker.Port, fleet, "agg-1"));
        await first.StartAsync();
        for (var i = 0; i < 10; i++) await Send(i);
        await WaitUntil(() => first.Counters.Accepted, n => n == 10, "first instance accepted 10");
        await first.DisposeAsync();

        // While it is down: new deltas and re-sends of accepted ones; the broker queues them in the persistent session.
        for (var i = 10; i < 20; i++) await Send(i);
        for (var i = 0; i < 5; i++) await Send(i);

        await using var second = new AggregatorService(_kit.Options(broker.Port, fleet, "agg-1"));
        await second.StartAsync();
        for (var i = 20; i < 30; i++) await Send(i);
        await WaitUntil(() => (Accepted: second.Counters.Accepted, Duplicates: second.Counters.Rejected(RejectionReason.Duplicate)), n => n == (20, 5), "second instance saw the queued and new deltas (observed: accepted, duplicates)");
        var version = await second.AggregateAsync(force: true);
        Assert.Equal(ids.Select(i => i.ToString("D")).Order(), version!.DeltaIds.Order());
        Assert.Equal(30, second.Registry.Deltas.States()[DeltaState.Aggregated]);
    }
}
