using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using Npgsql;

namespace ContinualLearning.Tests.Aggregator;

/// <summary>
/// Aggregators on separate hosts: each its own working directory (nothing shared on disk), coordinated only through a
/// real PostgreSQL registry and a real Mosquitto shared subscription.
/// </summary>
public sealed class PostgresAggregatorTests : IDisposable
{
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForBrokerTests();

    public void Dispose() => _kit.Dispose();

    [PostgresFact]
    public async Task Two_hosts_on_one_postgres_registry_aggregate_every_delta_exactly_once_in_one_chain()
    {
        await using var postgres = await PostgresServer.StartAsync();
        await using var broker = await MosquittoBroker.StartAsync();
        _kit.SeedPostgres(postgres.ConnectionString);
        const string fleet = "hosts";
        const int devices = 60;
        AggregatorOptions Host(string name) => _kit.Options(broker.Port, fleet, name, o => o with
        {
            RegistryPath = Path.Combine(_kit.Root, name),
            RegistryConnectionString = postgres.ConnectionString,
            Aggregation = o.Aggregation with { BufferSize = 7, MinDevices = 1 },
            Validation = o.Validation with { MaxStaleness = 100 },
        });
        await using var a = new AggregatorService(Host("host-a"));
        await using var b = new AggregatorService(Host("host-b"));
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
        await WaitUntil(() => (A: a.Counters.Accepted, B: b.Counters.Accepted), n => n.A + n.B == devices, "both hosts accepted every delta",
            describe: n => $"a: {n.A} accepted, {a.Counters.TotalRejected} rejected; b: {n.B} accepted, {b.Counters.TotalRejected} rejected");
        Assert.True(a.Counters.Accepted > 0 && b.Counters.Accepted > 0, $"the shared subscription should split the stream: a={a.Counters.Accepted}, b={b.Counters.Accepted}");
        await Task.WhenAll(a.AggregateAsync(force: true), b.AggregateAsync(force: true));
        await a.AggregateAsync(force: true);

        Assert.Equal("postgres", a.Registry.Backend);
        Assert.False(File.Exists(Path.Combine(_kit.Root, "host-a", ModelRegistry.DatabaseFileName)), "a PostgreSQL host keeps no registry file");
        var versions = a.Registry.ListVersions(AggregatorTestKit.Model);
        var aggregated = versions.SelectMany(v => v.DeltaIds).ToArray();
        Assert.Equal(sent.Order(), aggregated.Order());
        Assert.Equal(0, b.Registry.Deltas.PendingCount(AggregatorTestKit.Model));
        for (var i = 1; i < versions.Count; i++) Assert.Equal(versions[i - 1].Version, versions[i].Parent);
        // The constraint, not only the code: one version_deltas row per delta id, agreeing with the versions' lists.
        await using var sql = new NpgsqlConnection(postgres.ConnectionString);
        await sql.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*), count(DISTINCT delta_id) FROM version_deltas", sql);
        await using var r = await count.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal((devices, devices), ((int)r.GetInt64(0), (int)r.GetInt64(1)));
    }

    [PostgresFact]
    public async Task Attack_the_registry_password_never_reaches_the_log_or_the_error()
    {
        const string secret = "registry-pw-7f3a";
        await using var postgres = await PostgresServer.StartAsync();
        await using var broker = await MosquittoBroker.StartAsync();
        _kit.SeedPostgres(postgres.ConnectionString);
        var logger = new RecordingLogger<AggregatorService>();
        // A server that is down: the error names the host and port and what to check, never the password.
        var down = _kit.Options(MosquittoBroker.FreePort(), "pw", "agg-pw", o => o with
        {
            RegistryConnectionString = $"Host=127.0.0.1;Port={MosquittoBroker.FreePort()};Username=cl;Password={secret};Timeout=2",
        });
        await using (var service = new AggregatorService(down, logger))
        {
            var error = await Assert.ThrowsAsync<RegistryUnavailableException>(() => service.StartAsync());
            Assert.Contains("127.0.0.1", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, error.ToString(), StringComparison.Ordinal);
        }
        // A working registry reached with a password (trust auth ignores it): nothing logged carries it either.
        var up = _kit.Options(broker.Port, "pw", "agg-pw", o => o with { RegistryConnectionString = postgres.ConnectionString + $";Password={secret}" });
        await using (var service = new AggregatorService(up, logger))
        {
            await service.StartAsync();
            Assert.Equal("postgres", service.Registry.Backend);
        }
        Assert.DoesNotContain(secret, logger.Text, StringComparison.Ordinal);
    }
}
