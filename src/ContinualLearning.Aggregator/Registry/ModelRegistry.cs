using System.Text.Json;
using ContinualLearning.Bundle;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>Where a registry lives: a SQLite file in a directory, or a PostgreSQL database plus a local working directory.</summary>
public abstract record RegistryLocation
{
    private protected RegistryLocation(string directory) => Directory = directory;

    /// <summary>The local directory: the SQLite file and artifacts, or (PostgreSQL) only caches and build scratch.</summary>
    public string Directory { get; }

    /// <summary>The embedded registry: <c>{directory}/registry.db</c> and <c>{directory}/artifacts/sha256/</c>.</summary>
    public static RegistryLocation Sqlite(string directory) => new SqliteLocation(directory);

    /// <summary>A PostgreSQL registry shared by aggregators on any host; <paramref name="workingDirectory"/> is this host's scratch space.</summary>
    public static RegistryLocation Postgres(string connectionString, string workingDirectory) => new PostgresLocation(connectionString, workingDirectory);

    /// <summary>For logs: the directory, or the connection string without its password.</summary>
    public abstract string Describe();

    internal sealed record SqliteLocation(string Root) : RegistryLocation(Root)
    {
        public override string Describe() => $"SQLite in '{Directory}'";
    }

    internal sealed record PostgresLocation(string ConnectionString, string WorkingDirectory) : RegistryLocation(WorkingDirectory)
    {
        public override string Describe() => $"PostgreSQL '{PostgresRegistryDatabase.Redact(ConnectionString)}' (working directory '{Directory}')";

        // The record's generated ToString would print the password.
        public override string ToString() => Describe();
    }
}

/// <summary>
/// The aggregator's durable memory: versions and their lineage (here), the accepted delta ids and the buffered deltas
/// (<see cref="Deltas"/>), rollout decisions (<see cref="Decisions"/>), rejections (<see cref="Rejections"/>), the release
/// sequences (<see cref="Releases"/>) and the content-addressed bundles (<see cref="Artifacts"/>). Two backends behind the
/// same API (<see cref="RegistryLocation"/>): an embedded SQLite file (<c>{dir}/registry.db</c>, WAL; several instances
/// on one host may share the directory) or PostgreSQL (aggregators on separate hosts). Every write that must be atomic
/// runs in a transaction (<see cref="InTransaction{T}"/>), an aggregation under the model lock
/// (<see cref="WithModelLock{T}"/>). Thread safe (one connection, serialised).
/// </summary>
public sealed class ModelRegistry : IDisposable
{
    public const string DatabaseFileName = "registry.db";

    private readonly RegistryDatabase _db;

    private ModelRegistry(string directory, RegistryDatabase db, ArtifactStore artifacts, TimeProvider time)
    {
        Directory = directory;
        _db = db;
        Time = time;
        Artifacts = artifacts;
        TempFiles.Sweep(Path.Combine(directory, RegistryModels.CacheDirectoryName), time.GetUtcNow() - TempFiles.Grace);
        Deltas = new DeltaLedger(db);
        Decisions = new DecisionLog(db, time);
        Rejections = new RejectionLog(db);
        Releases = new ReleaseLog(db, time);
        Canaries = new CanaryStore(db);
        Audit = new AuditLog(db);
        RolloutPoints = new RolloutPointLog(db);
        OptimizerStates = new OptimizerStateStore(db);
        Clusters = new ClusterStore(db);
    }

    /// <summary>Full path of the registry's local directory (SQLite: the registry itself; PostgreSQL: caches and scratch).</summary>
    public string Directory { get; }

    /// <summary>"sqlite" or "postgres".</summary>
    public string Backend => _db.Backend;

    /// <summary>The schema version the registry is at (the highest migration applied).</summary>
    public int SchemaVersion => RegistryMigrations.CurrentVersion(_db);

    /// <summary>Bundle containers by SHA-256 (files beside SQLite, a table in PostgreSQL).</summary>
    public ArtifactStore Artifacts { get; }

    /// <summary>Accepted delta ids and the buffered deltas.</summary>
    public DeltaLedger Deltas { get; }

    /// <summary>Rollout and gate decisions.</summary>
    public DecisionLog Decisions { get; }

    /// <summary>Refused and dropped deltas.</summary>
    public RejectionLog Rejections { get; }

    /// <summary>Releases put on the wire and their release sequences.</summary>
    public ReleaseLog Releases { get; }

    /// <summary>Running canaries and the telemetry counted for them.</summary>
    public CanaryStore Canaries { get; }

    /// <summary>Operator actions asked of the console (docs/console.md, "Audit").</summary>
    public AuditLog Audit { get; }

    /// <summary>Canary-vs-control accuracies sampled while canaries ran.</summary>
    public RolloutPointLog RolloutPoints { get; }

    /// <summary>The server optimiser's state per version (docs/federated.md, "Server optimisers and Krum").</summary>
    public OptimizerStateStore OptimizerStates { get; }

    /// <summary>The clusters of concept-aware aggregation and the clustering state per base model (docs/federated.md, "Concept-aware aggregation").</summary>
    public ClusterStore Clusters { get; }

    /// <summary>The clock that stamps rows the registry dates itself (decisions, versions without a creation time).</summary>
    internal TimeProvider Time { get; }

    /// <summary>Opens (creating if needed) the SQLite registry in <paramref name="directory"/>.</summary>
    /// <param name="directory">Registry directory; created when missing.</param>
    /// <param name="time">Clock for the rows the registry dates itself; <see cref="TimeProvider.System"/> when null.</param>
    public static ModelRegistry Open(string directory, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return Open(RegistryLocation.Sqlite(directory), time);
    }

    /// <summary>Opens (creating if needed) the registry at <paramref name="location"/> and applies its schema migrations.</summary>
    /// <param name="location">SQLite directory, or PostgreSQL connection string and working directory.</param>
    /// <param name="time">Clock for the rows the registry dates itself; <see cref="TimeProvider.System"/> when null.</param>
    public static ModelRegistry Open(RegistryLocation location, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentException.ThrowIfNullOrEmpty(location.Directory);
        time ??= TimeProvider.System;
        var full = Path.GetFullPath(location.Directory);
        var artifactDirectory = Path.Combine(full, "artifacts", "sha256");
        try
        {
            System.IO.Directory.CreateDirectory(location is RegistryLocation.SqliteLocation ? artifactDirectory : full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot create the registry directory '{full}' ({ex.Message}); pass a writable --registry path.", ex);
        }
        if (location is RegistryLocation.PostgresLocation pg)
        {
            var db = PostgresRegistryDatabase.Open(pg.ConnectionString);
            return new ModelRegistry(full, db, new DatabaseArtifactStore(db, time), time);
        }
        return new ModelRegistry(full, SqliteRegistryDatabase.Open(Path.Combine(full, DatabaseFileName)), new FileArtifactStore(artifactDirectory, time), time);
    }

    /// <summary>
    /// Runs <paramref name="body"/> in one <c>BEGIN IMMEDIATE</c> transaction (committed when it returns, rolled back
    /// when it throws). Nested calls join the outer transaction. The body must be synchronous.
    /// </summary>
    public T InTransaction<T>(Func<T> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _db.InTransaction(body);
    }

    /// <summary>
    /// Runs <paramref name="body"/> in one transaction holding <paramref name="name"/>'s model lock: one body at a time per
    /// model across every aggregator on the registry (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
    /// database's write lock, which <c>BEGIN IMMEDIATE</c> already takes).
    /// </summary>
    public T WithModelLock<T>(string name, Func<T> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(body);
        return _db.WithModelLock(name, body);
    }

    /// <inheritdoc cref="WithModelLock{T}(string, Func{T})"/>
    public void WithModelLock(string name, Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        WithModelLock(name, () =>
        {
            body();
            return 0;
        });
    }

    public void InTransaction(Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        _db.InTransaction(() =>
        {
            body();
            return 0;
        });
    }

    // ---------------------------------------------------------------- versions

    public void AddVersion(ModelVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        SemanticVersion.Parse(record.Version);
        if (GetVersion(record.Name, record.Version) is not null)
            throw new InvalidOperationException($"Model {record.Name} version {record.Version} is already in the registry; versions are immutable, publish a new version.");
        _db.Execute(
            "INSERT INTO versions(name, version, parent, created_utc, status, artifact_sha256, delta_ids, device_ids, sample_counts, metrics) VALUES(@n,@v,@p,@c,@s,@a,@d,@dev,@sc,@m)",
            ("@n", record.Name), ("@v", record.Version), ("@p", record.Parent), ("@c", record.Created == default ? Time.GetUtcNow() : record.Created),
            ("@s", record.Status), ("@a", record.ArtifactSha256), ("@d", JsonSerializer.Serialize(record.DeltaIds.ToArray(), RegistryJson.Default.StringArray)),
            ("@dev", JsonSerializer.Serialize(record.DeviceIds.ToArray(), RegistryJson.Default.StringArray)),
            ("@sc", JsonSerializer.Serialize(record.SampleCounts.ToArray(), RegistryJson.Default.Int64Array)), ("@m", record.MetricsJson));
    }

    public ModelVersionRecord? GetVersion(string name, string version) =>
        QueryVersions("WHERE name=@n AND version=@v", ("@n", name), ("@v", version)).FirstOrDefault();

    /// <summary>Versions of a model (or all models when null), oldest first.</summary>
    public IReadOnlyList<ModelVersionRecord> ListVersions(string? name = null) =>
        name is null ? QueryVersions("") : QueryVersions("WHERE name=@n", ("@n", name));

    /// <summary>How many versions of the model have a parent (made by a round, whatever became of them); a count, no rows read.</summary>
    public int CountVersionsWithParent(string name) =>
        _db.Count("SELECT COUNT(*) FROM versions WHERE name=@n AND parent IS NOT NULL", ("@n", name));

    /// <summary>The newest version (by insertion) whatever its status, or null when the model has none.</summary>
    public ModelVersionRecord? Newest(string name) =>
        QueryVersions("WHERE name=@n ORDER BY seq DESC LIMIT 1", ("@n", name)).FirstOrDefault();

    /// <summary>The newest version (by insertion) with the given status.</summary>
    public ModelVersionRecord? Latest(string name, string status) =>
        QueryVersions("WHERE name=@n AND status=@s ORDER BY seq DESC LIMIT 1", ("@n", name), ("@s", status)).FirstOrDefault();

    /// <summary>The next version number: minor + 1 of the highest version the model ever had (never reuses a number).</summary>
    public string NextVersion(string name)
    {
        // The version names only: a full row carries its delta and device id lists, and every round asks this twice.
        var highest = _db.Query("SELECT version FROM versions WHERE name=@n", r => r.GetString(0), ("@n", name))
            .Select(SemanticVersion.Parse).DefaultIfEmpty().Max();
        return highest is null ? "1.0.0" : $"{highest.Major}.{highest.Minor + 1}.0";
    }

    /// <summary>Number of releases published after <paramref name="baseVersion"/> (its staleness), or null when the version is unknown.</summary>
    public int? ReleasesSince(string name, string baseVersion)
    {
        var v = GetVersion(name, baseVersion);
        if (v is null) return null;
        return _db.Count(
            "SELECT COUNT(*) FROM versions WHERE name=@n AND seq>@q AND status IN (@a,@b,@c)",
            ("@n", name), ("@q", v.Seq), ("@a", VersionStatus.Published[0]), ("@b", VersionStatus.Published[1]), ("@c", VersionStatus.Published[2]));
    }

    /// <summary>Compare-and-set of a version's status; false when it was no longer <paramref name="from"/> (another instance decided first).</summary>
    public bool TryTransition(string name, string version, string from, string to) =>
        _db.Execute("UPDATE versions SET status=@t WHERE name=@n AND version=@v AND status=@f", ("@t", to), ("@n", name), ("@v", version), ("@f", from)) == 1;

    public void UpdateMetrics(string name, string version, string metricsJson) =>
        _db.Execute("UPDATE versions SET metrics=@m WHERE name=@n AND version=@v", ("@m", metricsJson), ("@n", name), ("@v", version));

    /// <summary>Ancestors of a version, itself first, following parent links.</summary>
    public IReadOnlyList<ModelVersionRecord> Lineage(string name, string version)
    {
        var chain = new List<ModelVersionRecord>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var v = GetVersion(name, version); v is not null && seen.Add(v.Version); v = v.Parent is null ? null : GetVersion(name, v.Parent))
            chain.Add(v);
        return chain;
    }

    public void Dispose() => _db.Dispose();

    /// <summary>The database, for tests that need to reach the connection (e.g. to make SQLite run out of pages).</summary>
    internal RegistryDatabase Database => _db;

    private List<ModelVersionRecord> QueryVersions(string where, params (string, object?)[] parameters)
    {
        var order = where.Contains("ORDER BY", StringComparison.Ordinal) ? "" : " ORDER BY seq";
        return _db.Query(
            $"SELECT seq, name, version, parent, created_utc, status, artifact_sha256, delta_ids, device_ids, sample_counts, metrics FROM versions {where}{order}",
            r => new ModelVersionRecord
            {
                Seq = r.GetInt64(0),
                Name = r.GetString(1),
                Version = r.GetString(2),
                Parent = r.IsDBNull(3) ? null : r.GetString(3),
                Created = RegistryDatabase.ReadTime(r, 4),
                Status = r.GetString(5),
                ArtifactSha256 = r.GetString(6),
                DeltaIds = JsonSerializer.Deserialize(r.GetString(7), RegistryJson.Default.StringArray) ?? [],
                DeviceIds = JsonSerializer.Deserialize(r.GetString(8), RegistryJson.Default.StringArray) ?? [],
                SampleCounts = JsonSerializer.Deserialize(r.GetString(9), RegistryJson.Default.Int64Array) ?? [],
                MetricsJson = r.GetString(10),
            },
            parameters);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(long[]))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double>))]
internal sealed partial class RegistryJson : System.Text.Json.Serialization.JsonSerializerContext;
