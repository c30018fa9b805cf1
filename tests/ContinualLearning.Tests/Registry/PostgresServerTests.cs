using Npgsql;

namespace ContinualLearning.Tests.Registry;

/// <summary>
/// The PostgreSQL fixture the registry's PostgreSQL backend is tested on: a real server of its own, reached with Npgsql,
/// enforcing the constraint that makes a delta count once, and keeping a committed row through a crash.
/// </summary>
public sealed class PostgresServerTests
{
    [PostgresFact]
    public async Task A_unique_key_refuses_the_second_insert_of_the_same_id()
    {
        await using var server = await PostgresServer.StartAsync();
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await Execute(connection, "CREATE TABLE deltas (id uuid PRIMARY KEY, device text NOT NULL)");
        var id = Guid.NewGuid();

        await Execute(connection, "INSERT INTO deltas VALUES (@id, 'pi-01')", id);
        var duplicate = await Assert.ThrowsAsync<PostgresException>(() => Execute(connection, "INSERT INTO deltas VALUES (@id, 'pi-02')", id));

        Assert.Equal(PostgresErrorCodes.UniqueViolation, duplicate.SqlState);
        Assert.Equal(1L, await Scalar(connection, "SELECT count(*) FROM deltas"));
    }

    [PostgresFact]
    public async Task A_committed_row_survives_a_crash_and_restart()
    {
        await using var server = await PostgresServer.StartAsync();
        var id = Guid.NewGuid();
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await Execute(connection, "CREATE TABLE deltas (id uuid PRIMARY KEY)");
            await Execute(connection, "INSERT INTO deltas VALUES (@id)", id);
        }

        await server.KillAsync();
        await using (var refused = new NpgsqlConnection(server.ConnectionString))
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => refused.OpenAsync());
        await server.RestartAsync();

        await using var after = new NpgsqlConnection(server.ConnectionString);
        await after.OpenAsync();
        Assert.Equal(1L, await Scalar(after, "SELECT count(*) FROM deltas WHERE id = @id", id));
    }

    [PostgresFact]
    public async Task CreateDatabaseAsync_gives_each_caller_an_empty_database_of_its_own()
    {
        await using var server = await PostgresServer.StartAsync();
        var first = await server.CreateDatabaseAsync("t_" + Guid.NewGuid().ToString("N"));
        var second = await server.CreateDatabaseAsync("t_second");

        await using (var connection = new NpgsqlConnection(first))
        {
            await connection.OpenAsync();
            await Execute(connection, "CREATE TABLE deltas (id uuid PRIMARY KEY)");
            await Execute(connection, "INSERT INTO deltas VALUES (@id)", Guid.NewGuid());
            Assert.Equal(1L, await Scalar(connection, "SELECT count(*) FROM deltas"));
        }
        await using (var connection = new NpgsqlConnection(second))
        {
            await connection.OpenAsync();
            Assert.Equal(0L, await Scalar(connection, "SELECT count(*) FROM pg_tables WHERE tablename = 'deltas'"));
            Assert.Equal(1L, await Scalar(connection, "SELECT count(*) FROM pg_database WHERE datname = 't_second'"));
        }
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => server.CreateDatabaseAsync("t\"; DROP DATABASE postgres; --"));
        Assert.Contains("lower-case letters", bad.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PostgresException>(() => server.CreateDatabaseAsync("t_second")); // exists already
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, Guid? id = null)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is { } value) command.Parameters.AddWithValue("id", value);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> Scalar(NpgsqlConnection connection, string sql, Guid? id = null)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is { } value) command.Parameters.AddWithValue("id", value);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
