namespace ContinualLearning.Tests.Registry;

/// <summary>
/// One PostgreSQL server for a whole test class (<c>initdb</c> costs seconds; a test takes a database of its own with
/// <see cref="PostgresServer.CreateDatabaseAsync"/> instead). Without PostgreSQL installed the fixture holds no server
/// and each test decides through <see cref="Require"/>: skipped, or failed when CL_REQUIRE_POSTGRES=1. Installed but
/// failing to start is a failure of every test of the class.
/// </summary>
public sealed class PostgresServerFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    /// <summary>The server; skips or fails the calling test when PostgreSQL is not installed.</summary>
    public PostgresServer Require()
    {
        TestDependency.Postgres.Require(_server is not null);
        return _server;
    }

    public async ValueTask InitializeAsync()
    {
        if (PostgresServer.FindBinDirectory() is not null) _server = await PostgresServer.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
