using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Fleet.Signing;

/// <summary>A release or bundle failed verification; the message says which part and why.</summary>
public sealed class BundleVerificationException : Exception
{
    /// <summary>Creates the exception with the default message.</summary>
    public BundleVerificationException()
    {
    }

    /// <summary>Creates the exception with a message saying which part failed and why.</summary>
    public BundleVerificationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message saying which part failed and why, and the underlying error.</summary>
    public BundleVerificationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>What happened to an offered chunk.</summary>
public enum ChunkStatus
{
    /// <summary>Verified against the signed release and stored.</summary>
    Accepted,
    /// <summary>Already stored; nothing changed (QoS 1 and retained chunks arrive more than once).</summary>
    Duplicate,
    /// <summary>Refused: wrong release, bad index or size, or a hash that does not match the signed release; the reason says which.</summary>
    Rejected,
    /// <summary>The payload is not a chunk at all (truncated, corrupt framing); the reason says what failed.</summary>
    Unreadable,
    /// <summary>A readable chunk of another version of the model (a retained chunk of an older release); not for this assembler.</summary>
    OtherVersion,
}

/// <summary>Outcome of <see cref="BundleAssembler.Accept"/>.</summary>
public sealed record ChunkResult(ChunkStatus Status, int Index, string Reason);

/// <summary>
/// Collects the chunks of one signed release in any order, checks each against the hash the signed release lists,
/// and persists it (write-to-temp then rename, so a crash never leaves a half chunk) under a state directory.
/// A new assembler over the same directory resumes: it re-verifies the chunks on disk and only the missing ones
/// need to arrive. The bundle is handed out only when every chunk and the whole-bundle hash verify.
/// Thread safe.
/// </summary>
public sealed class BundleAssembler
{
    private const string ReleaseFile = "release.json";
    private readonly string _directory;
    private readonly bool[] _have;
    private readonly Lock _lock = new();

    /// <summary>Verifies <paramref name="release"/> against <paramref name="trustedKey"/> and opens (or resumes) its state directory.</summary>
    /// <exception cref="BundleVerificationException">The release is unsigned, malformed or not signed by the trusted key.</exception>
    public BundleAssembler(Release release, ECDsa trustedKey, string stateDirectory)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(trustedKey);
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        var verdict = ReleaseSigner.Verify(release, trustedKey);
        if (!verdict.Ok) throw new BundleVerificationException(verdict.Reason);
        Release = release;
        _directory = stateDirectory;
        _have = new bool[release.ChunkCount];
        Directory.CreateDirectory(_directory);
        Resume();
    }

    /// <summary>The signed release whose chunks this assembler collects.</summary>
    public Release Release { get; }

    /// <summary>Chunks verified and stored so far (including those found on disk at start).</summary>
    public int ReceivedCount
    {
        get
        {
            lock (_lock) return _have.Count(h => h);
        }
    }

    /// <summary>How many chunks were already on disk and valid when this assembler opened.</summary>
    public int ResumedCount { get; private set; }

    /// <summary>Whether every chunk is verified and stored.</summary>
    public bool IsComplete => ReceivedCount == Release.ChunkCount;

    /// <summary>Indices still needed, ascending (to re-request them).</summary>
    public IReadOnlyList<int> MissingChunks
    {
        get
        {
            lock (_lock) return Enumerable.Range(0, _have.Length).Where(i => !_have[i]).ToArray();
        }
    }

    /// <summary>
    /// <see cref="Accept(BundleChunk)"/> for a chunk message as it came off the wire: decodes it first (an unreadable payload
    /// is <see cref="ChunkStatus.Unreadable"/>) and passes over a chunk of another version of the model
    /// (<see cref="ChunkStatus.OtherVersion"/>: the chunk wildcard also carries retained chunks of older releases).
    /// </summary>
    public ChunkResult AcceptMessage(ReadOnlySpan<byte> payload)
    {
        BundleChunk chunk;
        try
        {
            chunk = BundleChunk.Decode(payload);
        }
        catch (FleetMessageException ex)
        {
            return new ChunkResult(ChunkStatus.Unreadable, -1, $"chunk unreadable: {ex.Message}");
        }
        return chunk.Version == Release.Version ? Accept(chunk) : new ChunkResult(ChunkStatus.OtherVersion, chunk.Index, $"chunk of v{chunk.Version}");
    }

    /// <summary>Checks a chunk against the signed release and stores it. Never throws for bad chunks: it says why it refused.</summary>
    public ChunkResult Accept(BundleChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var r = Release;
        if (chunk.ModelName != r.ModelName || chunk.Version != r.Version)
            return Reject(chunk.Index, $"chunk belongs to {chunk.ModelName} v{chunk.Version}, not {r.ModelName} v{r.Version}");
        if (chunk.Index < 0 || chunk.Index >= r.ChunkCount || chunk.Count != r.ChunkCount)
            return Reject(chunk.Index, $"chunk {chunk.Index} of {chunk.Count} does not fit a release of {r.ChunkCount} chunks");
        var expectedLength = ExpectedLength(chunk.Index);
        if (chunk.Data.Length != expectedLength)
            return Reject(chunk.Index, $"chunk {chunk.Index} has {chunk.Data.Length} bytes, the release implies {expectedLength}");
        var hash = chunk.Sha256Hex;
        if (!string.Equals(hash, r.ChunkSha256[chunk.Index], StringComparison.OrdinalIgnoreCase))
            return Reject(chunk.Index, $"chunk {chunk.Index} SHA-256 {hash[..16]}… does not match the signed release ({r.ChunkSha256[chunk.Index][..16]}…); it was tampered with or damaged");

        lock (_lock)
        {
            if (_have[chunk.Index]) return new ChunkResult(ChunkStatus.Duplicate, chunk.Index, "already stored");
            var path = ChunkPath(chunk.Index);
            var temp = path + ".tmp";
            File.WriteAllBytes(temp, chunk.Data);
            File.Move(temp, path, overwrite: true);
            _have[chunk.Index] = true;
        }
        return new ChunkResult(ChunkStatus.Accepted, chunk.Index, "stored");
    }

    /// <summary>The whole bundle container once every chunk is present and the whole-bundle SHA-256 matches; otherwise null.</summary>
    /// <exception cref="BundleVerificationException">All chunks are present but the assembled bundle does not match the release.</exception>
    public byte[]? TryAssemble()
    {
        lock (_lock)
        {
            if (_have.Any(h => !h)) return null;
            var bundle = new byte[Release.BundleSize];
            var offset = 0;
            for (var i = 0; i < _have.Length; i++)
            {
                var data = File.ReadAllBytes(ChunkPath(i));
                // Re-check on read: the directory may sit on flash that can rot, or another process may have touched it.
                if (!HashMatches(data, i) || offset + data.Length > bundle.Length)
                {
                    File.Delete(ChunkPath(i));
                    _have[i] = false;
                    return null;
                }
                data.CopyTo(bundle, offset);
                offset += data.Length;
            }
            var whole = Convert.ToHexStringLower(SHA256.HashData(bundle));
            if (offset != bundle.Length || !string.Equals(whole, Release.BundleSha256, StringComparison.OrdinalIgnoreCase))
                throw new BundleVerificationException($"Bundle {Release.ModelName} v{Release.Version}: assembled {offset} bytes hash to {whole}, the signed release says {Release.BundleSha256}.");
            return bundle;
        }
    }

    /// <summary>Deletes the state directory (after the bundle was installed).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
            Array.Clear(_have);
        }
    }

    private void Resume()
    {
        var releasePath = Path.Combine(_directory, ReleaseFile);
        var releaseJson = FleetJson.Serialize(Release);
        // A directory left over from another release (other version or contents) is stale: start over.
        if (File.Exists(releasePath) && !File.ReadAllBytes(releasePath).AsSpan().SequenceEqual(releaseJson))
        {
            foreach (var f in Directory.GetFiles(_directory)) File.Delete(f);
        }
        File.WriteAllBytes(releasePath, releaseJson);

        foreach (var temp in Directory.GetFiles(_directory, "*.tmp")) File.Delete(temp);
        for (var i = 0; i < _have.Length; i++)
        {
            var path = ChunkPath(i);
            if (!File.Exists(path)) continue;
            var data = File.ReadAllBytes(path);
            if (data.Length == ExpectedLength(i) && HashMatches(data, i))
            {
                _have[i] = true;
                ResumedCount++;
            }
            else
            {
                File.Delete(path);
            }
        }
    }

    private bool HashMatches(byte[] data, int index) =>
        string.Equals(Convert.ToHexStringLower(SHA256.HashData(data)), Release.ChunkSha256[index], StringComparison.OrdinalIgnoreCase);

    private int ExpectedLength(int index) =>
        (int)Math.Min(Release.ChunkSize, Release.BundleSize - (long)index * Release.ChunkSize);

    private string ChunkPath(int index) => Path.Combine(_directory, $"{index:D6}.chunk");

    private static ChunkResult Reject(int index, string reason) => new(ChunkStatus.Rejected, index, reason);
}
