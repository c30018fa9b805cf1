using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Tests.Chaos;

/// <summary>The registry database of a chaos run, seeded with the kit's released 1.0.0, and SQL connections to audit it.</summary>
internal sealed class ChaosRegistry : IAsyncDisposable
{
    private readonly AggregatorTestKit _kit;

    private ChaosRegistry(AggregatorTestKit kit) => _kit = kit;

    public string Backend { get; } = "sqlite";

    /// <summary>The aggregators' registry:connectionString, or null for SQLite.</summary>
    public string? ConnectionString { get; }

    public static Task<ChaosRegistry> CreateAsync(AggregatorTestKit kit, PostgresServer postgres, string root)
    {
        _ = postgres;
        _ = root;
        return Task.FromResult(new ChaosRegistry(kit));
    }

    /// <summary>registryPath of an instance working in <paramref name="directory"/>.</summary>
    public string RegistryPathFor(string directory)
    {
        _ = directory;
        return _kit.RegistryPath;
    }

    public async Task<DbConnection> OpenAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(_kit.RegistryPath, "registry.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 30 }.ToString());
        await connection.OpenAsync();
        return connection;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
