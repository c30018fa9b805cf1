using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>
/// The registry contract on PostgreSQL: one server per class (<see cref="PostgresServerFixture"/>), a database
/// <c>t_&lt;guid&gt;</c> per test. Every registry gets a working directory of its own, as aggregators on separate hosts
/// have: whatever they share goes through the database. Without PostgreSQL every test is skipped, or fails when
/// CL_REQUIRE_POSTGRES=1 (CI).
/// </summary>
public sealed class PostgresRegistryContractTests(PostgresServerFixture fixture) : RegistryContractTests, IClassFixture<PostgresServerFixture>
{
    private readonly List<string> _workingDirectories = [];
    private string? _connectionString;

    protected override string ExpectedBackend => "postgres";

    protected override async Task<RegistryLocation> NewDatabaseAsync()
    {
        var server = fixture.Require();
        _connectionString = await server.CreateDatabaseAsync("t_" + Guid.NewGuid().ToString("N"));
        return SameDatabase();
    }

    protected override RegistryLocation SameDatabase()
    {
        var connectionString = _connectionString ?? throw new InvalidOperationException("NewDatabaseAsync first.");
        var directory = Directory.CreateTempSubdirectory("cl-contract-pg-").FullName;
        lock (_workingDirectories) _workingDirectories.Add(directory);
        return RegistryLocation.Postgres(connectionString, directory);
    }

    protected override Task CorruptArtifactAsync(ModelRegistry registry, string sha256, byte[] bytes)
    {
        Assert.Equal(1, registry.Database.Execute("UPDATE artifacts SET bytes=@b WHERE sha256=@s", ("@b", bytes), ("@s", sha256)));
        return Task.CompletedTask;
    }

    protected override ValueTask CleanUpAsync()
    {
        foreach (var directory in _workingDirectories) Directory.Delete(directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
