using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// The SQLite side of the registry: one connection (serialised by a lock), the schema, <c>BEGIN IMMEDIATE</c>
/// transactions that nest, and the command helpers the table classes share. Timestamps are stored as round-trip
/// ISO 8601 in UTC, which sorts as text (so <c>MIN(received_utc)</c> is the oldest).
/// </summary>
internal sealed class RegistryDatabase : IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS versions(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            parent TEXT,
            created_utc TEXT NOT NULL,
            status TEXT NOT NULL,
            artifact_sha256 TEXT NOT NULL,
            delta_ids TEXT NOT NULL DEFAULT '[]',
            device_ids TEXT NOT NULL DEFAULT '[]',
            sample_counts TEXT NOT NULL DEFAULT '[]',
            metrics TEXT NOT NULL DEFAULT '{}',
            UNIQUE(name, version));
        CREATE TABLE IF NOT EXISTS seen_deltas(
            delta_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            device_id TEXT NOT NULL,
            base_version TEXT NOT NULL,
            received_utc TEXT NOT NULL,
            state TEXT NOT NULL,
            version TEXT);
        CREATE TABLE IF NOT EXISTS pending_deltas(
            delta_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            device_id TEXT NOT NULL,
            base_version TEXT NOT NULL,
            sample_count INTEGER NOT NULL,
            received_utc TEXT NOT NULL,
            payload BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS pending_by_name ON pending_deltas(name, received_utc);
        CREATE TABLE IF NOT EXISTS rejections(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_utc TEXT NOT NULL,
            device_id TEXT,
            delta_id TEXT,
            reason TEXT NOT NULL,
            message TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS decisions(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            decision TEXT NOT NULL,
            at_utc TEXT NOT NULL,
            reason TEXT NOT NULL,
            numbers TEXT NOT NULL);
        """;

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();
    private int _transactionDepth;

    static RegistryDatabase() => SQLitePCL.Batteries_V2.Init();

    private RegistryDatabase(SqliteConnection connection) => _connection = connection;

    /// <summary>Opens (creating if needed) <paramref name="path"/> in WAL mode and applies the schema.</summary>
    public static RegistryDatabase Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
            // Also the busy timeout: another instance may hold the write lock during an aggregation.
            DefaultTimeout = 30,
        }.ToString());
        connection.Open();
        var database = new RegistryDatabase(connection);
        // WAL: readers never block the writer; synchronous=FULL because this file is the record of what was accepted.
        database.Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;");
        database.Execute(Schema);
        return database;
    }

    /// <summary>
    /// Runs <paramref name="body"/> in one <c>BEGIN IMMEDIATE</c> transaction (committed when it returns, rolled back
    /// when it throws). Nested calls join the outer transaction. The body must be synchronous.
    /// </summary>
    public T InTransaction<T>(Func<T> body)
    {
        lock (_lock)
        {
            if (_transactionDepth > 0)
            {
                _transactionDepth++;
                try
                {
                    return body();
                }
                finally
                {
                    _transactionDepth--;
                }
            }
            Execute("BEGIN IMMEDIATE");
            _transactionDepth = 1;
            try
            {
                var result = body();
                Execute("COMMIT");
                return result;
            }
            catch (Exception ex)
            {
                RollBack(ex);
                throw;
            }
            finally
            {
                _transactionDepth = 0;
            }
        }
    }

    /// <summary>
    /// Rolls back after <paramref name="failure"/> without ever replacing it. SQLite rolls a transaction back by itself
    /// on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM: "database or disk is full"), and a ROLLBACK then fails
    /// with "cannot rollback - no transaction is active" — which, thrown from here, used to hide the disk-full error.
    /// </summary>
    private void RollBack(Exception failure)
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) != 0) return; // SQLite already rolled it back
        try
        {
            Execute("ROLLBACK");
        }
        catch (SqliteException rollback)
        {
            // The caller needs the original error; the failed rollback travels with it.
            failure.Data["rollbackError"] = rollback.Message;
        }
    }

    // Commands are created and disposed under the lock too: SqliteConnection keeps a list of its commands that
    // CreateCommand, SqliteCommand.Dispose and Close all change, and it is not thread-safe.
    public int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        lock (_lock)
        {
            using var cmd = Command(sql, parameters);
            return cmd.ExecuteNonQuery();
        }
    }

    public object? Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        lock (_lock)
        {
            using var cmd = Command(sql, parameters);
            return cmd.ExecuteScalar();
        }
    }

    public int Count(string sql, params (string Name, object? Value)[] parameters) =>
        Convert.ToInt32(Scalar(sql, parameters), CultureInfo.InvariantCulture);

    /// <summary>Every row of <paramref name="sql"/>, each mapped by <paramref name="read"/> while the reader is on it.</summary>
    public List<T> Query<T>(string sql, Func<SqliteDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        var list = new List<T>();
        lock (_lock)
        {
            using var cmd = Command(sql, parameters);
            using var r = cmd.ExecuteReader();
            while (r.Read()) list.Add(read(r));
        }
        return list;
    }

    /// <summary>A <c>SELECT key, COUNT(*) … GROUP BY key</c> as a dictionary, keys mapped by <paramref name="key"/>.</summary>
    public Dictionary<TKey, int> CountBy<TKey>(string sql, Func<string, TKey> key)
        where TKey : notnull =>
        Query(sql, r => (Key: key(r.GetString(0)), Count: r.GetInt32(1))).ToDictionary(x => x.Key, x => x.Count);

    public void Dispose()
    {
        lock (_lock) _connection.Dispose();
    }

    public static string Format(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private SqliteCommand Command(string sql, (string Name, object? Value)[] parameters)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return cmd;
    }
}
