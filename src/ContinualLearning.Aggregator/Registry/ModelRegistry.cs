using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using ContinualLearning.Bundle;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// The aggregator's durable memory, an embedded SQLite file (<c>{dir}/registry.db</c>, WAL) plus content-addressed
/// artifacts (<c>{dir}/artifacts/sha256/{hex}.bundle</c>, the deterministic bundle container). It records versions
/// and their lineage, every delta id ever accepted (so a re-sent or re-delivered delta is never counted twice, also
/// across restarts), the accepted-but-not-yet-aggregated deltas themselves (inserted in the same transaction as the
/// id, so an accepted delta cannot be lost), rejections, and rollout decisions. Several aggregator instances on one
/// host may share the file: every write that must be atomic runs in a <c>BEGIN IMMEDIATE</c> transaction.
/// Thread safe (one connection, serialised).
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    public const string DatabaseFileName = "registry.db";

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

    static ModelRegistry() => SQLitePCL.Batteries_V2.Init();

    private ModelRegistry(string directory, SqliteConnection connection)
    {
        Directory = directory;
        _connection = connection;
    }

    /// <summary>Full path of the registry directory.</summary>
    public string Directory { get; }

    public string ArtifactDirectory => Path.Combine(Directory, "artifacts", "sha256");

    /// <summary>Opens (creating if needed) the registry in <paramref name="directory"/>.</summary>
    public static ModelRegistry Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var full = Path.GetFullPath(directory);
        try
        {
            System.IO.Directory.CreateDirectory(Path.Combine(full, "artifacts", "sha256"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot create the registry directory '{full}' ({ex.Message}); pass a writable --registry path.", ex);
        }
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(full, DatabaseFileName),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = false,
            // Also the busy timeout: another instance may hold the write lock during an aggregation.
            DefaultTimeout = 30,
        }.ToString());
        connection.Open();
        var registry = new ModelRegistry(full, connection);
        // WAL: readers never block the writer; synchronous=FULL because this file is the record of what was accepted.
        registry.Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;");
        registry.Execute(Schema);
        return registry;
    }

    // ---------------------------------------------------------------- transactions

    /// <summary>
    /// Runs <paramref name="body"/> in one <c>BEGIN IMMEDIATE</c> transaction (committed when it returns, rolled back
    /// when it throws). Nested calls join the outer transaction. The body must be synchronous.
    /// </summary>
    public T InTransaction<T>(Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
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
            catch
            {
                Execute("ROLLBACK");
                throw;
            }
            finally
            {
                _transactionDepth = 0;
            }
        }
    }

    public void InTransaction(Action body) => InTransaction(() =>
    {
        body();
        return 0;
    });

    // ---------------------------------------------------------------- artifacts

    /// <summary>Stores a bundle container under its SHA-256 (idempotent; written to a temp file, fsynced, renamed) and returns the hex hash.</summary>
    public string PutArtifact(byte[] container)
    {
        ArgumentNullException.ThrowIfNull(container);
        var sha = Convert.ToHexStringLower(SHA256.HashData(container));
        var path = ArtifactPath(sha);
        if (File.Exists(path)) return sha;
        var temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            fs.Write(container);
            fs.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        return sha;
    }

    public string ArtifactPath(string sha256) => Path.Combine(ArtifactDirectory, sha256 + ".bundle");

    /// <summary>Reads an artifact and checks its hash.</summary>
    public byte[] ReadArtifact(string sha256)
    {
        var path = ArtifactPath(sha256);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Artifact {sha256} is missing from '{ArtifactDirectory}'; the registry directory is incomplete (restore it from backup).", path);
        var bytes = File.ReadAllBytes(path);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != sha256)
            throw new InvalidDataException($"Artifact '{path}' hashes to {actual}, not {sha256}: the file is corrupted.");
        return bytes;
    }

    // ---------------------------------------------------------------- versions

    public void AddVersion(ModelVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        SemanticVersion.Parse(record.Version);
        if (GetVersion(record.Name, record.Version) is not null)
            throw new InvalidOperationException($"Model {record.Name} version {record.Version} is already in the registry; versions are immutable, publish a new version.");
        Execute(
            "INSERT INTO versions(name, version, parent, created_utc, status, artifact_sha256, delta_ids, device_ids, sample_counts, metrics) VALUES($n,$v,$p,$c,$s,$a,$d,$dev,$sc,$m)",
            ("$n", record.Name), ("$v", record.Version), ("$p", record.Parent), ("$c", Format(record.Created == default ? DateTimeOffset.UtcNow : record.Created)),
            ("$s", record.Status), ("$a", record.ArtifactSha256), ("$d", JsonSerializer.Serialize(record.DeltaIds.ToArray(), RegistryJson.Default.StringArray)),
            ("$dev", JsonSerializer.Serialize(record.DeviceIds.ToArray(), RegistryJson.Default.StringArray)),
            ("$sc", JsonSerializer.Serialize(record.SampleCounts.ToArray(), RegistryJson.Default.Int64Array)), ("$m", record.MetricsJson));
    }

    public ModelVersionRecord? GetVersion(string name, string version) =>
        QueryVersions("WHERE name=$n AND version=$v", ("$n", name), ("$v", version)).FirstOrDefault();

    /// <summary>Versions of a model (or all models when null), oldest first.</summary>
    public IReadOnlyList<ModelVersionRecord> ListVersions(string? name = null) =>
        name is null ? QueryVersions("") : QueryVersions("WHERE name=$n", ("$n", name));

    /// <summary>The newest version (by insertion) with the given status.</summary>
    public ModelVersionRecord? Latest(string name, string status) =>
        QueryVersions("WHERE name=$n AND status=$s ORDER BY seq DESC LIMIT 1", ("$n", name), ("$s", status)).FirstOrDefault();

    /// <summary>The next version number: minor + 1 of the highest version the model ever had (never reuses a number).</summary>
    public string NextVersion(string name)
    {
        var highest = ListVersions(name).Select(v => SemanticVersion.Parse(v.Version)).DefaultIfEmpty().Max();
        return highest is null ? "1.0.0" : $"{highest.Major}.{highest.Minor + 1}.0";
    }

    /// <summary>Number of releases published after <paramref name="baseVersion"/> (its staleness), or null when the version is unknown.</summary>
    public int? ReleasesSince(string name, string baseVersion)
    {
        var v = GetVersion(name, baseVersion);
        if (v is null) return null;
        using var cmd = Command(
            "SELECT COUNT(*) FROM versions WHERE name=$n AND seq>$q AND status IN ($a,$b,$c)",
            ("$n", name), ("$q", v.Seq), ("$a", VersionStatus.Published[0]), ("$b", VersionStatus.Published[1]), ("$c", VersionStatus.Published[2]));
        lock (_lock) return Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Compare-and-set of a version's status; false when it was no longer <paramref name="from"/> (another instance decided first).</summary>
    public bool TryTransition(string name, string version, string from, string to) =>
        Execute("UPDATE versions SET status=$t WHERE name=$n AND version=$v AND status=$f", ("$t", to), ("$n", name), ("$v", version), ("$f", from)) == 1;

    public void UpdateMetrics(string name, string version, string metricsJson) =>
        Execute("UPDATE versions SET metrics=$m WHERE name=$n AND version=$v", ("$m", metricsJson), ("$n", name), ("$v", version));

    /// <summary>Ancestors of a version, itself first, following parent links.</summary>
    public IReadOnlyList<ModelVersionRecord> Lineage(string name, string version)
    {
        var chain = new List<ModelVersionRecord>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var v = GetVersion(name, version); v is not null && seen.Add(v.Version); v = v.Parent is null ? null : GetVersion(name, v.Parent))
            chain.Add(v);
        return chain;
    }

    // ---------------------------------------------------------------- deltas

    /// <summary>
    /// Records the delta id and buffers the delta in one transaction. False when the id was seen before (a duplicate:
    /// QoS 1 redelivery, a device re-sending, or a restart between receive and acknowledge).
    /// </summary>
    public bool TryAcceptDelta(string name, PendingDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        return InTransaction(() =>
        {
            var inserted = Execute(
                "INSERT OR IGNORE INTO seen_deltas(delta_id, name, device_id, base_version, received_utc, state) VALUES($id,$n,$d,$b,$r,'pending')",
                ("$id", delta.DeltaId), ("$n", name), ("$d", delta.DeviceId), ("$b", delta.BaseVersion), ("$r", Format(delta.Received)));
            if (inserted == 0) return false;
            Execute(
                "INSERT INTO pending_deltas(delta_id, name, device_id, base_version, sample_count, received_utc, payload) VALUES($id,$n,$d,$b,$s,$r,$p)",
                ("$id", delta.DeltaId), ("$n", name), ("$d", delta.DeviceId), ("$b", delta.BaseVersion), ("$s", delta.SampleCount), ("$r", Format(delta.Received)), ("$p", delta.Payload));
            return true;
        });
    }

    public bool IsSeen(string deltaId)
    {
        using var cmd = Command("SELECT 1 FROM seen_deltas WHERE delta_id=$id", ("$id", deltaId));
        lock (_lock) return cmd.ExecuteScalar() is not null;
    }

    public int PendingCount(string name)
    {
        using var cmd = Command("SELECT COUNT(*) FROM pending_deltas WHERE name=$n", ("$n", name));
        lock (_lock) return Convert.ToInt32(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>When the oldest buffered delta arrived, or null when nothing is buffered.</summary>
    public DateTimeOffset? OldestPending(string name)
    {
        using var cmd = Command("SELECT MIN(received_utc) FROM pending_deltas WHERE name=$n", ("$n", name));
        lock (_lock) return cmd.ExecuteScalar() is string s ? Parse(s) : null;
    }

    public IReadOnlyList<PendingDelta> ListPending(string name)
    {
        using var cmd = Command("SELECT delta_id, device_id, base_version, sample_count, received_utc, payload FROM pending_deltas WHERE name=$n ORDER BY received_utc, delta_id", ("$n", name));
        var list = new List<PendingDelta>();
        lock (_lock)
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
                list.Add(new PendingDelta(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), Parse(r.GetString(4)), (byte[])r.GetValue(5)));
        }
        return list;
    }

    /// <summary>Removes buffered deltas and marks their ids with the final state ("aggregated" into a version, or "dropped").</summary>
    public void ConsumePending(IEnumerable<string> deltaIds, string state, string? version)
    {
        foreach (var id in deltaIds)
        {
            Execute("DELETE FROM pending_deltas WHERE delta_id=$id", ("$id", id));
            Execute("UPDATE seen_deltas SET state=$s, version=$v WHERE delta_id=$id", ("$s", state), ("$v", version), ("$id", id));
        }
    }

    /// <summary>How many delta ids ended in each state (pending, aggregated, dropped).</summary>
    public IReadOnlyDictionary<string, int> DeltaStates() => CountBy("SELECT state, COUNT(*) FROM seen_deltas GROUP BY state");

    // ---------------------------------------------------------------- rejections and decisions

    public void RecordRejection(RejectionRecord rejection)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        Execute("INSERT INTO rejections(at_utc, device_id, delta_id, reason, message) VALUES($a,$d,$id,$r,$m)",
            ("$a", Format(rejection.At)), ("$d", rejection.DeviceId), ("$id", rejection.DeltaId), ("$r", rejection.Reason), ("$m", rejection.Message));
    }

    public IReadOnlyDictionary<string, int> RejectionCounts() => CountBy("SELECT reason, COUNT(*) FROM rejections GROUP BY reason");

    public void RecordDecision(string name, string version, string decision, string reason, string numbersJson) =>
        Execute("INSERT INTO decisions(name, version, decision, at_utc, reason, numbers) VALUES($n,$v,$d,$a,$r,$x)",
            ("$n", name), ("$v", version), ("$d", decision), ("$a", Format(DateTimeOffset.UtcNow)), ("$r", reason), ("$x", numbersJson));

    public IReadOnlyList<RolloutDecisionRecord> ListDecisions(string? name = null, string? version = null)
    {
        using var cmd = Command(
            "SELECT id, name, version, decision, at_utc, reason, numbers FROM decisions WHERE ($n IS NULL OR name=$n) AND ($v IS NULL OR version=$v) ORDER BY id",
            ("$n", name), ("$v", version));
        var list = new List<RolloutDecisionRecord>();
        lock (_lock)
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
                list.Add(new RolloutDecisionRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), Parse(r.GetString(4)), r.GetString(5), r.GetString(6)));
        }
        return list;
    }

    public void Dispose()
    {
        lock (_lock) _connection.Dispose();
    }

    // ---------------------------------------------------------------- plumbing

    private IReadOnlyList<ModelVersionRecord> QueryVersions(string where, params (string, object?)[] parameters)
    {
        var order = where.Contains("ORDER BY", StringComparison.Ordinal) ? "" : " ORDER BY seq";
        using var cmd = Command($"SELECT seq, name, version, parent, created_utc, status, artifact_sha256, delta_ids, device_ids, sample_counts, metrics FROM versions {where}{order}", parameters);
        var list = new List<ModelVersionRecord>();
        lock (_lock)
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                list.Add(new ModelVersionRecord
                {
                    Seq = r.GetInt64(0),
                    Name = r.GetString(1),
                    Version = r.GetString(2),
                    Parent = r.IsDBNull(3) ? null : r.GetString(3),
                    Created = Parse(r.GetString(4)),
                    Status = r.GetString(5),
                    ArtifactSha256 = r.GetString(6),
                    DeltaIds = JsonSerializer.Deserialize(r.GetString(7), RegistryJson.Default.StringArray) ?? [],
                    DeviceIds = JsonSerializer.Deserialize(r.GetString(8), RegistryJson.Default.StringArray) ?? [],
                    SampleCounts = JsonSerializer.Deserialize(r.GetString(9), RegistryJson.Default.Int64Array) ?? [],
                    MetricsJson = r.GetString(10),
                });
            }
        }
        return list;
    }

    private Dictionary<string, int> CountBy(string sql)
    {
        using var cmd = Command(sql);
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        lock (_lock)
        {
            using var r = cmd.ExecuteReader();
            while (r.Read()) result[r.GetString(0)] = r.GetInt32(1);
        }
        return result;
    }

    private SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return cmd;
    }

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(sql, parameters);
        lock (_lock) return cmd.ExecuteNonQuery();
    }

    // Round-trip ISO 8601 in UTC sorts as text, so MIN(received_utc) is the oldest.
    private static string Format(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(long[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double>))]
internal sealed partial class RegistryJson : System.Text.Json.Serialization.JsonSerializerContext;
