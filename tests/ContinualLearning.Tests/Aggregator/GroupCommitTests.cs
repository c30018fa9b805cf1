using System.Text.RegularExpressions;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>
/// Group commit against Mosquitto 2: deltas are stored in batches, one transaction each, and a batch is acknowledged
/// only after its commit. With the registry refusing writes in the middle of a stream no delta of a failed batch is
/// acknowledged; once it writes again the broker re-sends them and every delta is admitted exactly once.
/// </summary>
public sealed partial class GroupCommitTests : IDisposable
{
    private const string Fleet = "group", Instance = "agg-group";

    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForBrokerTests();

    public void Dispose() => _kit.Dispose();

    [MosquittoFact]
    public async Task A_registry_failing_mid_stream_gets_no_delta_of_its_batches_acknowledged_and_every_delta_admitted_once()
    {
        // Debug logging makes Mosquitto write one "Received PUBACK from <client>" line per acknowledgement it gets.
        await using var broker = await MosquittoBroker.StartAsync("log_type debug");
        await using var service = new AggregatorService(_kit.Options(broker.Port, Fleet, Instance, o => o with
        {
            Aggregation = o.Aggregation with { BufferSize = 10_000, MaxPending = 10_000, MaxPendingPerDevice = 10_000 },
            Inbox = o.Inbox with { BatchMax = 32, StorageRetryDelay = TimeSpan.FromMilliseconds(200), StorageRetryMaxDelay = TimeSpan.FromSeconds(1) },
        }));
        await service.StartAsync();
        await using var devices = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "sim-devices", Port = broker.Port });
        await devices.StartAsync();

        // A first stream goes through in batches and is acknowledged.
        await PublishAsync(devices, 0, 100);
        await WaitUntil(() => service.Counters.Accepted == 100);
        await WaitUntil(() => PubAcks(broker) >= 100, "the first 100 acknowledged after their commits");
        Assert.InRange(service.Batcher!.Largest, 2, 32);

        // The registry refuses every delta from now on: none of the next 200 may be acknowledged.
        service.Registry.Database.Execute("CREATE TRIGGER refuse_deltas BEFORE INSERT ON pending_deltas BEGIN SELECT RAISE(ABORT, 'injected registry failure'); END");
        await PublishAsync(devices, 100, 200);
        await WaitUntil(() => service.Counters.InboxFailures >= 2);
        Assert.Equal(100, PubAcks(broker));
        Assert.Equal(100, service.Registry.Deltas.PendingCount(AggregatorTestKit.Model));

        // Writable again: the broker re-sends what was left unacknowledged, and each delta is stored once.
        service.Registry.Database.Execute("DROP TRIGGER refuse_deltas");
        await WaitUntil(() => service.Registry.Deltas.PendingCount(AggregatorTestKit.Model), n => n == 300, "all 300 stored");
        await WaitUntil(() => PubAcks(broker) >= 300, "every delta acknowledged once stored");
        Assert.Equal(300, service.Counters.Accepted);
        Assert.Equal(300, service.Registry.Deltas.States()[DeltaState.Pending]);
    }

    private async Task PublishAsync(FleetMqttClient devices, int from, int count)
    {
        for (var i = from; i < from + count; i++)
            await devices.PublishAsync(FleetTopics.DeltaTopic(Fleet, $"d{i % 10}"), _kit.EncodeDelta($"d{i % 10}", value: 0.001f));
    }

    private static int PubAcks(MosquittoBroker broker) =>
        PubAckLine().Matches(broker.ReadLog()).Count(m => m.Groups[1].Value == Instance);

    [GeneratedRegex(@"Received PUBACK from (\S+)")]
    private static partial Regex PubAckLine();
}
