using System.Data.Common;
using ContinualLearning.Aggregator.Registry;
using Npgsql;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// The registry of a chaos run: a PostgreSQL database shared by every instance (each keeps only its own working
/// directory), seeded with the kit's released 1.0.0, and plain SQL connections to audit it.
/// </summary>
internal sealed class ChaosRegistry
{
    private readonly PostgresServer _server;

    private ChaosRegistry(PostgresServer server)
    {
        _server = server;
        // Pooled like a production aggregator: a server restart leaves broken connections in the pool to recover from.
        ConnectionString = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Pooling = true, MaxPoolSize = 8 }.ConnectionString;
    }

    public static string Backend => "postgres";

    /// <summary>The aggregators' registry:connectionString.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates the schema (the migrations) and imports the kit's seed bundle as released 1.0.0.</summary>
    public static ChaosRegistry Create(AggregatorTestKit kit, PostgresServer server, string root)
    {
        var seeding = Directory.CreateDirectory(Path.Combine(root, "seed-work")).FullName;
        using (var registry = ModelRegistry.Open(RegistryLocation.Postgres(server.ConnectionString, seeding)))
            RegistryModels.Import(registry, Path.Combine(kit.Root, "seed"), VersionStatus.Released);
        return new ChaosRegistry(server);
    }

    /// <summary>An instance's registryPath: only its own working directory.</summary>
    public static string RegistryPathFor(string directory) => Path.Combine(directory, "registry");

    public async Task<DbConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(_server.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
