using System.Security.Cryptography;
using ContinualLearning.Replay;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Storage;

/// <summary>
/// The store's SQLite file: where it may live, its connection settings, schema and meta table, prepared statements,
/// transactions and the float blob encoding. Callers hold the store's lock around everything but opening.
/// </summary>
internal sealed class SampleDatabase : IDisposable
{
    private const int SchemaVersion = 1;

    private static readonly Lazy<bool> s_sqliteInit = new(() =>
    {
        SQLitePCL.Batteries_V2.Init();
        return true;
    });

    private readonly List<SqliteCommand> _commands = [];
    private readonly bool _createdDirectory;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;

    // Reused (under the store's lock) for every feature blob written or read: SQLite copies a bound blob when the
    // statement runs, and a row's blob is copied into its float[] at once, so one buffer serves every row. Without it
    // each sample costs two short-lived byte[]s on ingest and two more when a run takes it (docs/benchmarks.md,
    // "Live heap during the burst").
    private byte[] _blobScratch = [];

    /// <summary>Opens (creating if needed) the database at <paramref name="path"/> with the schema in place.</summary>
    /// <exception cref="InvalidOperationException">The path is on persistent storage (and that is not allowed), or SQLite refused WAL mode.</exception>
    public SampleDatabase(string path, bool allowPersistent)
    {
        Path = path;
        // Checked before anything is created, so a refused path leaves no directory behind.
        TransientPathGuard.EnsureTransient(path, allowPersistent);
        var directory = System.IO.Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            // Owner-only: the directory holds raw samples.
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
            else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            _createdDirectory = true;
        }

        _ = s_sqliteInit.Value;
        Connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // One long-lived connection; a pool would keep the file open after Dispose and block deleting it.
            Pooling = false,
        }.ToString());
        try
        {
            Connection.Open();
            ConfigureConnection(Connection);
            CreateSchema();
            _begin = Prepare("BEGIN IMMEDIATE");
            _commit = Prepare("COMMIT");
            _rollback = Prepare("ROLLBACK");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

    public SqliteConnection Connection { get; }

    /// <summary>A prepared statement with the named parameters, disposed with the database.</summary>
    public SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var cmd = Connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var name in parameters) cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
        cmd.Prepare();
        _commands.Add(cmd);
        return cmd;
    }

    public void Execute(string sql)
    {
        using var cmd = Connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="body"/> in one transaction; on failure rolls back, calls <paramref name="rolledBack"/> and rethrows.</summary>
    public void InTransaction(Action body, Action rolledBack)
    {
        _begin.ExecuteNonQuery();
        try
        {
            body();
            _commit.ExecuteNonQuery();
        }
        catch
        {
            _rollback.ExecuteNonQuery();
            rolledBack();
            throw;
        }
    }

    public object? GetMeta(string key)
    {
        using var cmd = Connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $k";
        cmd.Parameters.AddWithValue("$k", key);
        return cmd.ExecuteScalar();
    }

    public void SetMeta(string key, object value)
    {
        using var cmd = Connection.CreateCommand();
        cmd.CommandText = "INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        cmd.Parameters.AddWithValue("$k", key);
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    /// <summary>The database file's random sample-id key, created on first open.</summary>
    public byte[] LoadOrCreateIdKey()
    {
        if (GetMeta("id_key") is byte[] { Length: SampleIdCodec.KeyLength } key) return key;
        key = RandomNumberGenerator.GetBytes(SampleIdCodec.KeyLength);
        SetMeta("id_key", key);
        return key;
    }

    /// <summary>The feature/label configuration a database records (meta key <c>config</c>).</summary>
    internal static string ConfigurationKey(SampleStoreOptions options) =>
        $"schema={SchemaVersion};features={options.FeatureCount?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "any"};labels={options.LabelKind}:{options.LabelCount}";

    /// <summary>Records the feature/label configuration on first open; refuses a database made with a different one.</summary>
    /// <exception cref="InvalidOperationException">The database was created with an incompatible configuration.</exception>
    public void CheckOrStoreConfiguration(SampleStoreOptions options)
    {
        var wanted = ConfigurationKey(options);
        var stored = GetMeta("config") as string;
        if (stored is null)
        {
            SetMeta("config", wanted);
            return;
        }
        if (stored != wanted)
            throw new SampleStoreConfigurationException(
                $"The sample store at '{Path}' was created with '{stored}' but the options now say '{wanted}'. " +
                "Its samples do not fit the current model's input or label set: delete the file (and its -wal/-shm files) or point DatabasePath elsewhere.");
    }

    /// <summary>
    /// <paramref name="values"/> as a float32 blob in the shared scratch buffer. Valid until the next call: bind it to a
    /// parameter and execute the statement before writing another blob.
    /// </summary>
    public byte[] BlobLocked(ReadOnlySpan<float> values)
    {
        var length = values.Length * sizeof(float);
        // The parameter binds the whole array, so its length must be exact; the feature width rarely changes.
        if (_blobScratch.Length != length) _blobScratch = new byte[length];
        FloatBlob.Write(values, _blobScratch);
        return _blobScratch;
    }

    /// <summary>A float32 blob column as a new float[], read through the scratch buffer.</summary>
    public float[] ReadFloatsLocked(SqliteDataReader reader, int ordinal)
    {
        var length = checked((int)reader.GetBytes(ordinal, 0, null, 0, 0));
        if (_blobScratch.Length < length) _blobScratch = new byte[length];
        var read = checked((int)reader.GetBytes(ordinal, 0, _blobScratch, 0, length));
        return FloatBlob.ToFloats(_blobScratch.AsSpan(0, read));
    }

    public static SampleLabel ReadLabel(SqliteDataReader reader, int classColumn, int valuesColumn)
    {
        if (!reader.IsDBNull(valuesColumn)) return SampleLabel.FromValues(FloatBlob.ToFloats((byte[])reader.GetValue(valuesColumn)));
        if (!reader.IsDBNull(classColumn)) return SampleLabel.Class(reader.GetInt32(classColumn));
        return default;
    }

    /// <summary>The label_class and label_values column values of a label.</summary>
    public static (object Class, object Values) LabelColumns(in SampleLabel label) => label.Kind switch
    {
        SampleLabelKind.Class => (label.ClassIndex, DBNull.Value),
        SampleLabelKind.Values => (DBNull.Value, FloatBlob.ToBytes(label.Values)),
        _ => (DBNull.Value, DBNull.Value),
    };

    public static object DbValue(object? value) => value ?? DBNull.Value;

    /// <summary>Deletes the database and its WAL files, and its directory when this database created it and it is now empty.</summary>
    public void DeleteFiles()
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(directory)) return;
        foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
            File.Delete(Path + suffix);
        if (_createdDirectory && Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
            Directory.Delete(directory);
    }

    public void Dispose()
    {
        foreach (var cmd in _commands) cmd.Dispose();
        _commands.Clear();
        Connection.Dispose();
    }

    private static void ConfigureConnection(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        // WAL: its -wal/-shm files sit next to the database, i.e. on the same tmpfs; it lets a CLI read while the
        // daemon writes, and a crashed process leaves a consistent database. temp_store=MEMORY keeps temporary
        // tables, sorts and statement journals off any disk. secure_delete=FAST zeroes deleted rows in pages that are
        // written anyway, so used samples do not linger in free pages.
        cmd.CommandText = "PRAGMA journal_mode=WAL";
        var mode = Convert.ToString(cmd.ExecuteScalar());
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"SQLite refused WAL mode for '{connection.DataSource}' (got '{mode}'); the filesystem must support shared memory (tmpfs does).");
        cmd.CommandText = "PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA secure_delete=FAST; PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=4194304";
        cmd.ExecuteNonQuery();
    }

    private void CreateSchema()
    {
        Execute("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS samples (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                state INTEGER NOT NULL,
                features BLOB NOT NULL,
                label_class INTEGER,
                label_values BLOB,
                prediction BLOB,
                model_version TEXT,
                size INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS replay (
                slot INTEGER PRIMARY KEY,
                sample_id INTEGER NOT NULL,
                time_ms INTEGER NOT NULL,
                features BLOB NOT NULL,
                label_class INTEGER,
                label_values BLOB);
            """);
    }
}
