using System.Data;
using System.Data.Common;
using Npgsql;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// The registry in PostgreSQL, shared by aggregators on separate hosts. Transactions run at READ COMMITTED, so each
/// statement sees what other hosts committed before it; the model lock is a transaction-scoped advisory lock
/// (<c>pg_advisory_xact_lock</c>) taken as the transaction's first statement, released by COMMIT, ROLLBACK, or the
/// server when a host's connection dies. Timestamps are <c>timestamptz</c> (microseconds).
/// </summary>
internal sealed class PostgresRegistryDatabase : RegistryDatabase
{
    private readonly string _connectionString;
    private NpgsqlConnection _connection;

    private PostgresRegistryDatabase(string connectionString)
    {
        _connectionString = connectionString;
        _connection = OpenConnection();
    }

    public override string Backend => "postgres";

    /// <summary>
    /// The connection, reopened when the server went away (restart, failover) while no transaction was open: the next
    /// operation after an outage works again, the one that met the outage failed (and the inbox re-receives its deltas).
    /// </summary>
    protected override DbConnection Connection
    {
        get
        {
            if (_connection.State != ConnectionState.Open && !InOpenTransaction)
            {
                _connection.Dispose();
                _connection = OpenConnection();
            }
            return _connection;
        }
    }

    /// <summary>Connects to <paramref name="connectionString"/> and applies the migrations.</summary>
    public static new PostgresRegistryDatabase Open(string connectionString)
    {
        var database = new PostgresRegistryDatabase(connectionString);
        try
        {
            RegistryMigrations.Apply(database);
        }
        catch
        {
            database.Dispose();
            throw;
        }
        return database;
    }

    /// <summary>What is wrong with a connection string (without echoing it), or null when Npgsql accepts it and it names a host.</summary>
    public static string? Problem(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            return string.IsNullOrWhiteSpace(builder.Host) ? "names no Host" : null;
        }
        catch (ArgumentException ex)
        {
            return "is not a valid connection string (" + ex.Message + ")";
        }
    }

    /// <summary>The connection string with any password removed, for logs and errors.</summary>
    public static string Redact(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            builder.Remove("Password");
            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(unparseable connection string)";
        }
    }

    protected override void Begin() => Execute("BEGIN ISOLATION LEVEL READ COMMITTED");

    // One NpgsqlBatch: every row in one round trip, each its own statement with its own affected-row count.
    protected override int[] ExecuteEachCore(string sql, IReadOnlyList<(string Name, object? Value)[]> rows)
    {
        using var batch = new NpgsqlBatch((NpgsqlConnection)Connection);
        foreach (var row in rows)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var (name, value) in row)
            {
                var parameter = new NpgsqlParameter { ParameterName = name };
                SetValue(parameter, value);
                command.Parameters.Add(parameter);
            }
            batch.BatchCommands.Add(command);
        }
        batch.ExecuteNonQuery();
        return [.. batch.BatchCommands.Cast<NpgsqlBatchCommand>().Select(c => checked((int)c.RecordsAffected))];
    }

    // The list as one text[] parameter: one round trip and one plan, whatever its length.
    protected override List<T> QueryAnyCore<T>(string sql, string list, IReadOnlyCollection<string> values, Func<DbDataReader, T> read,
        (string Name, object? Value)[] parameters) =>
        Query(sql, read, [.. parameters, (list, values.ToArray())]);

    protected override int ExecuteAnyCore(string sql, string list, IReadOnlyCollection<string> values, (string Name, object? Value)[] parameters) =>
        Execute(sql, [.. parameters, (list, values.ToArray())]);

    protected override void LockKey(string key) =>
        Execute("SELECT pg_advisory_xact_lock(hashtextextended(@k, 0))", ("@k", "cl.registry." + key));

    internal override void LockMigrations() =>
        Execute("SELECT pg_advisory_xact_lock(hashtextextended('cl.registry.migrate', 0))");

    // Npgsql writes a DateTimeOffset to timestamptz only with offset 0.
    protected override object ToDatabase(DateTimeOffset value) => value.ToUniversalTime();

    protected override void DisposeConnection() => _connection.Dispose();

    private NpgsqlConnection OpenConnection()
    {
        var builder = new NpgsqlConnectionStringBuilder(_connectionString);
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = "cl-aggregator";
        // The same few statements run for every admitted batch and every round: prepared on the server after a few uses
        // they skip parsing and planning. A connection string that sets Max Auto Prepare keeps its own value.
        if (builder.MaxAutoPrepare == 0) builder.MaxAutoPrepare = 64;
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            connection.Open();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            connection.Dispose();
            throw new RegistryUnavailableException(
                $"Cannot connect to the PostgreSQL registry '{Redact(_connectionString)}': {ex.Message}. Check registry:connectionString (host, port, database, user; the password comes from the connection string, PGPASSWORD or ~/.pgpass) and that the server is up.", ex);
        }
        using var setup = connection.CreateCommand();
        // A host that vanishes mid-transaction (no FIN) must not hold the model lock for ever.
        setup.CommandText = "SET idle_in_transaction_session_timeout = '60s'";
        setup.ExecuteNonQuery();
        return connection;
    }
}

/// <summary>The registry's database could not be reached (after the message, the cause).</summary>
public sealed class RegistryUnavailableException : IOException
{
    public RegistryUnavailableException()
    {
    }

    public RegistryUnavailableException(string message)
        : base(message)
    {
    }

    public RegistryUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
