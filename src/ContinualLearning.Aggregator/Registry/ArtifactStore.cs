using System.Security.Cryptography;
using ContinualLearning.IO;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Content-addressed bundle containers, keyed by their SHA-256, checked on every read. Two places hold them: files
/// beside a SQLite registry (<see cref="FileArtifactStore"/>) and a table of the PostgreSQL registry
/// (<see cref="DatabaseArtifactStore"/>), where aggregators on separate hosts all see them. An object store (S3 and the
/// like) would be a third subclass: the five operations below are all the registry needs.
/// </summary>
public abstract class ArtifactStore
{
    private protected ArtifactStore()
    {
    }

    /// <summary>Where the artifacts live, for messages and the CLI (a directory, or the database table).</summary>
    public abstract string Location { get; }

    /// <summary>Stores a bundle container under its SHA-256 (idempotent) and returns the hex hash.</summary>
    public string Put(byte[] container)
    {
        ArgumentNullException.ThrowIfNull(container);
        var sha = Convert.ToHexStringLower(SHA256.HashData(container));
        Store(sha, container);
        return sha;
    }

    /// <summary>Reads an artifact and checks its hash.</summary>
    public byte[] Read(string sha256)
    {
        var bytes = Load(sha256) ?? throw new FileNotFoundException(
            $"Artifact {sha256} is missing from {Location}: the registry is incomplete (restore it from backup), or the retention sweep deleted it (retention:keepVersions) because the version was old.", sha256);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != sha256)
            throw new InvalidDataException($"Artifact {sha256} in {Location} hashes to {actual}: it is corrupted.");
        return bytes;
    }

    /// <summary>Every stored artifact's hash with when it was written.</summary>
    internal abstract IEnumerable<(string Sha256, DateTime WrittenUtc)> List();

    /// <summary>Deletes an artifact (retention); false when it was not there.</summary>
    internal abstract bool Delete(string sha256);

    /// <summary>Writes the container unless one with this hash is already stored.</summary>
    private protected abstract void Store(string sha256, byte[] container);

    /// <summary>The stored bytes, or null when there is no such artifact.</summary>
    private protected abstract byte[]? Load(string sha256);
}

/// <summary>
/// Artifacts as files, <c>{registry}/artifacts/sha256/{hex}.bundle</c>, written with <see cref="AtomicFile"/> (temp
/// file, fsync, rename, directory fsync) before the transaction that references them. Temp files an interrupted write
/// left behind are deleted when the store opens (<see cref="TempFiles"/>).
/// </summary>
public sealed class FileArtifactStore : ArtifactStore
{
    private const string Extension = ".bundle";

    internal FileArtifactStore(string directory, TimeProvider time)
    {
        Directory = directory;
        SweptTempFiles = TempFiles.Sweep(directory, time.GetUtcNow() - TempFiles.Grace);
    }

    /// <summary>Full path of the artifact directory.</summary>
    public string Directory { get; }

    /// <summary>Temp files of interrupted writes deleted when the store opened.</summary>
    public int SweptTempFiles { get; }

    public override string Location => $"'{Directory}'";

    /// <summary>Where the artifact with this hash lives (whether or not it exists).</summary>
    public string PathOf(string sha256) => Path.Combine(Directory, sha256 + Extension);

    internal override IEnumerable<(string Sha256, DateTime WrittenUtc)> List() =>
        System.IO.Directory.EnumerateFiles(Directory, "*" + Extension)
            .Select(p => (Path.GetFileNameWithoutExtension(p), File.GetLastWriteTimeUtc(p)));

    internal override bool Delete(string sha256)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path)) return false;
        File.Delete(path);
        AtomicFile.FsyncDirectory(Directory);
        return true;
    }

    private protected override void Store(string sha256, byte[] container)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path)) AtomicFile.Write(path, container);
    }

    private protected override byte[]? Load(string sha256)
    {
        var path = PathOf(sha256);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }
}

/// <summary>
/// Artifacts in the registry database's <c>artifacts</c> table, so every aggregator host reads what another wrote. A
/// put inside the aggregation's transaction commits with the version that names it: no orphan can be left behind.
/// </summary>
internal sealed class DatabaseArtifactStore(RegistryDatabase db, TimeProvider time) : ArtifactStore
{
    public override string Location => "the registry database (table artifacts)";

    internal override IEnumerable<(string Sha256, DateTime WrittenUtc)> List() =>
        db.Query("SELECT sha256, created_utc FROM artifacts", r => (r.GetString(0), RegistryDatabase.ReadTime(r, 1).UtcDateTime));

    internal override bool Delete(string sha256) => db.Execute("DELETE FROM artifacts WHERE sha256=@s", ("@s", sha256)) == 1;

    private protected override void Store(string sha256, byte[] container) =>
        db.Execute("INSERT INTO artifacts(sha256, bytes, created_utc) VALUES(@s,@b,@c) ON CONFLICT(sha256) DO NOTHING",
            ("@s", sha256), ("@b", container), ("@c", time.GetUtcNow()));

    private protected override byte[]? Load(string sha256) =>
        db.Query("SELECT bytes FROM artifacts WHERE sha256=@s", r => (byte[])r.GetValue(0), ("@s", sha256)).FirstOrDefault();
}
