using System.Text.RegularExpressions;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>
/// Issue 11, attack 5 against Mosquitto: with the registry on a full disk, 300 QoS 1 deltas used to be PUBACKed, never
/// stored and never re-sent, and the log said "cannot rollback - no transaction is active". Now none is acknowledged
/// while storage fails, the log carries the disk-full error, and after the disk has room again every one is stored.
/// </summary>
public sealed partial class StorageFailureTests : IDisposable
{
    private const int Deltas = 300;

    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForBrokerTests();

    public void Dispose() => _kit.Dispose();

    [MosquittoFact]
    public async Task Attack_registry_on_a_full_disk_acknowledges_no_delta_and_loses_none()
    {
        // Debug logging makes Mosquitto write one "Received PUBACK from <client>" line per acknowledgement it gets.
        await using var broker = await MosquittoBroker.StartAsync("log_type debug");
        const string fleet = "diskfull", instance = "agg-full";
        var log = new RecordingLogger<AggregatorService>();
        await using var service = new AggregatorService(_kit.Options(broker.Port, fleet, instance, o => o with
        {
            Inbox = o.Inbox with { StorageRetryDelay = TimeSpan.FromMilliseconds(200), StorageRetryMaxDelay = TimeSpan.FromSeconds(1) },
        }), log);
        await service.StartAsync();
        FillTheDisk(service.Registry.Database);

        await using var devices = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "sim-devices", Port = broker.Port });
        await devices.StartAsync();
        for (var i = 0; i < Deltas; i++)
            await devices.PublishAsync(FleetTopics.DeltaTopic(fleet, $"d{i}"), _kit.EncodeDelta($"d{i}", value: 0.001f));

        // It tried, failed, paused, came back, got the deltas re-sent and failed again: storage is still full.
        await WaitUntil(() => service.Counters.InboxFailures >= 3);
        var stored = service.Registry.Deltas.PendingCount(AggregatorTestKit.Model);
        Assert.Equal(0, stored);
        Assert.Equal(0, PubAcks(broker, instance));
        Assert.Contains(log.Entries, e => e.Exception is SqliteException { SqliteErrorCode: 13 } && e.Exception.Message.Contains("database or disk is full", StringComparison.Ordinal));
        Assert.DoesNotContain("cannot rollback", log.Text, StringComparison.Ordinal);

        // Room again: the next reconnect stores every delta the broker kept.
        EmptyTheDisk(service.Registry.Database);
        await WaitUntil(() => service.Registry.Deltas.PendingCount(AggregatorTestKit.Model), n => n == Deltas, "every delta stored after the disk has room");
        await WaitUntil(() => PubAcks(broker, instance) >= Deltas, "each delta acknowledged once it was stored");
        Assert.Equal(Deltas, service.Counters.Accepted);
    }

    /// <summary>
    /// A real SQLITE_FULL on the registry's own connection: it may not grow the file, and filler deltas (of another
    /// model) take the room left in its pages, smaller and smaller, until not even a tiny one fits.
    /// </summary>
    private static void FillTheDisk(RegistryDatabase db)
    {
        db.Execute("PRAGMA max_page_count = 1"); // raised by SQLite to the current size: the file cannot grow
        var ledger = new DeltaLedger(db);
        foreach (var size in new[] { 2048, 256, 32, 1 })
        {
            for (var failedInARow = 0; failedInARow < 50;)
            {
                try
                {
                    ledger.Admit("filler", new PendingDelta(Guid.NewGuid().ToString("D"), "filler", "0", 1, DateTimeOffset.UnixEpoch, new byte[size]), new PendingLimits(int.MaxValue, int.MaxValue));
                    failedInARow = 0;
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == 13)
                {
                    failedInARow++;
                }
            }
        }
    }

    private static void EmptyTheDisk(RegistryDatabase db)
    {
        db.Execute("PRAGMA max_page_count = 1073741823");
        db.Execute("DELETE FROM pending_deltas WHERE name='filler'");
        db.Execute("DELETE FROM seen_deltas WHERE name='filler'");
    }

    private static int PubAcks(MosquittoBroker broker, string clientId) =>
        PubAckLine().Matches(broker.ReadLog()).Count(m => m.Groups[1].Value == clientId);

    [GeneratedRegex(@"Received PUBACK from (\S+)")]
    private static partial Regex PubAckLine();
}
