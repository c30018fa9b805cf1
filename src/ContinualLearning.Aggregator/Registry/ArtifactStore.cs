using System.Security.Cryptography;
using ContinualLearning.IO;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Content-addressed bundle containers in <c>{registry}/artifacts/sha256/{hex}.bundle</c>. A container is written
/// with <see cref="AtomicFile"/> (temp file, fsync, rename, directory fsync) before the transaction that references it,
/// and its hash is checked on every read. Temp files an interrupted write left behind are deleted when the store opens (<see cref="TempFiles"/>).
/// </summary>
public sealed class ArtifactStore
{
    private const string Extension = ".bundle";

    internal ArtifactStore(string directory, TimeProvider time)
    {
        Directory = directory;
        SweptTempFiles = TempFiles.Sweep(directory, time.GetUtcNow() - TempFiles.Grace);
    }

    /// <summary>Full path of the artifact directory.</summary>
    public string Directory { get; }

    /// <summary>Temp files of interrupted writes deleted when the store opened.</summary>
    public int SweptTempFiles { get; }

    /// <summary>Stores a bundle container under its SHA-256 (idempotent) and returns the hex hash.</summary>
    public string Put(byte[] container)
    {
        ArgumentNullException.ThrowIfNull(container);
        var sha = Convert.ToHexStringLower(SHA256.HashData(container));
        var path = PathOf(sha);
        if (!File.Exists(path)) AtomicFile.Write(path, container);
        return sha;
    }

    /// <summary>Where the artifact with this hash lives (whether or not it exists).</summary>
    public string PathOf(string sha256) => Path.Combine(Directory, sha256 + Extension);

    /// <summary>Reads an artifact and checks its hash.</summary>
    public byte[] Read(string sha256)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Artifact {sha256} is missing from '{Directory}': the registry directory is incomplete (restore it from backup), or the retention sweep deleted it (retention:keepVersions) because the version was old.", path);
        var bytes = File.ReadAllBytes(path);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != sha256)
            throw new InvalidDataException($"Artifact '{path}' hashes to {actual}, not {sha256}: the file is corrupted.");
        return bytes;
    }

    /// <summary>Every stored artifact's hash with when it was written.</summary>
    internal IEnumerable<(string Sha256, DateTime WrittenUtc)> List() =>
        System.IO.Directory.EnumerateFiles(Directory, "*" + Extension)
            .Select(p => (Path.GetFileNameWithoutExtension(p), File.GetLastWriteTimeUtc(p)));

    /// <summary>Deletes an artifact (retention); false when it was not there.</summary>
    internal bool Delete(string sha256)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path)) return false;
        File.Delete(path);
        AtomicFile.FsyncDirectory(Directory);
        return true;
    }
}
