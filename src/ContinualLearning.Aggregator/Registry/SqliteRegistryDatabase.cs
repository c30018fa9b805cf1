using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// The embedded registry: one SQLite file in WAL mode. <c>BEGIN IMMEDIATE</c> takes the database's write lock at the
/// start of every transaction, which also serialises aggregator instances sharing the file on one host, so the model
/// lock needs nothing more. Timestamps are round-trip ISO 8601 text in UTC with seven fractional digits, which sorts as
/// text (so <c>MIN(received_utc)</c> is the oldest).
/// </summary>
internal sealed class SqliteRegistryDatabase : RegistryDatabase
{
    private readonly SqliteConnection _connection;

    static SqliteRegistryDatabase() => SQLitePCL.Batteries_V2.Init();

    private SqliteRegistryDatabase(SqliteConnection connection) => _connection = connection;

    public override string Backend => "sqlite";

    protected override DbConnection Connection => _connection;

    /// <summary>Opens (creating if needed) <paramref name="path"/> in WAL mode and applies the migrations.</summary>
    public static new SqliteRegistryDatabase Open(string path)
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
        var database = new SqliteRegistryDatabase(connection);
        try
        {
            // WAL: readers never block the writer; synchronous=FULL because this file is the record of what was accepted.
            database.Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;");
            RegistryMigrations.Apply(database);
        }
        catch
        {
            database.Dispose();
            throw;
        }
        return database;
    }

    protected override void Begin() => Execute("BEGIN IMMEDIATE");

    // BEGIN IMMEDIATE already holds the only write lock there is.
    protected override void LockKey(string key)
    {
    }

    internal override void LockMigrations()
    {
    }

    /// <summary>
    /// SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM: "database or disk
    /// is full"), and a ROLLBACK then fails with "cannot rollback - no transaction is active" — which, thrown from here,
    /// would hide the disk-full error.
    /// </summary>
    protected override void RollBack(Exception failure)
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) != 0) return; // SQLite already rolled it back
        base.RollBack(failure);
    }

    protected override object ToDatabase(DateTimeOffset value) => Format(value);

    protected override void DisposeConnection() => _connection.Dispose();

    public static string Format(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
