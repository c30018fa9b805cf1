using System.Security.Cryptography;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Content-addressed bundle containers in <c>{registry}/artifacts/sha256/{hex}.bundle</c>. A container is written
/// (temp file, fsync, rename) before the transaction that references it, and its hash is checked on every read.
/// </summary>
public sealed class ArtifactStore
{
    internal ArtifactStore(string directory) => Directory = directory;

    /// <summary>Full path of the artifact directory.</summary>
    public string Directory { get; }

    /// <summary>Stores a bundle container under its SHA-256 (idempotent) and returns the hex hash.</summary>
    public string Put(byte[] container)
    {
        ArgumentNullException.ThrowIfNull(container);
        var sha = Convert.ToHexStringLower(SHA256.HashData(container));
        var path = PathOf(sha);
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

    /// <summary>Where the artifact with this hash lives (whether or not it exists).</summary>
    public string PathOf(string sha256) => Path.Combine(Directory, sha256 + ".bundle");

    /// <summary>Reads an artifact and checks its hash.</summary>
    public byte[] Read(string sha256)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Artifact {sha256} is missing from '{Directory}'; the registry directory is incomplete (restore it from backup).", path);
        var bytes = File.ReadAllBytes(path);
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != sha256)
            throw new InvalidDataException($"Artifact '{path}' hashes to {actual}, not {sha256}: the file is corrupted.");
        return bytes;
    }
}
