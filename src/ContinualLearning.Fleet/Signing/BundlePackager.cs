using System.Formats.Tar;
using System.Security.Cryptography;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Fleet.Signing;

/// <summary>
/// Turns a bundle directory into one byte container (a POSIX tar, made deterministic: files sorted by path,
/// fixed timestamps and modes, no owner names, so the same bundle always hashes the same), cuts it into
/// chunks, and writes the release that lists every chunk hash. The reverse, <see cref="Extract"/>, refuses
/// paths that would escape the target directory.
/// </summary>
public static class BundlePackager
{
    /// <summary>Chunk size when the caller gives none: 64 KiB.</summary>
    public const int DefaultChunkSize = 64 * 1024;

    private static readonly DateTimeOffset FixedTime = DateTimeOffset.FromUnixTimeSeconds(0);

    /// <summary>Packs the files of <paramref name="bundleDirectory"/> into the deterministic tar container.</summary>
    public static byte[] Pack(string bundleDirectory)
    {
        if (!Directory.Exists(bundleDirectory))
            throw new DirectoryNotFoundException($"Bundle directory '{bundleDirectory}' does not exist.");
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            var files = Directory.GetFiles(bundleDirectory, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(bundleDirectory, f).Replace('\\', '/'))
                .Order(StringComparer.Ordinal);
            foreach (var rel in files)
            {
                using var content = File.OpenRead(Path.Combine(bundleDirectory, rel));
                var entry = new PaxTarEntry(TarEntryType.RegularFile, rel, new Dictionary<string, string>())
                {
                    ModificationTime = FixedTime,
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                    DataStream = content,
                };
                tar.WriteEntry(entry);
            }
        }
        return ms.ToArray();
    }

    /// <summary>Unpacks a container made by <see cref="Pack"/> into <paramref name="targetDirectory"/> (created if needed).</summary>
    /// <exception cref="InvalidDataException">The container is not a tar of regular files that fit inside the target directory.</exception>
    public static void Extract(byte[] container, string targetDirectory)
    {
        ArgumentNullException.ThrowIfNull(container);
        var root = Path.GetFullPath(targetDirectory);
        Directory.CreateDirectory(root);
        CheckMetadataBlockSizes(container);
        using var ms = new MemoryStream(container, writable: false);
        using var tar = new TarReader(ms);
        try
        {
            while (tar.GetNextEntry() is { } entry) ExtractEntry(entry, root);
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or OverflowException or ArgumentOutOfRangeException or NotSupportedException)
        {
            // How TarReader reports a truncated container, a garbled numeric header field, a size / time out of range,
            // or an entry type it does not read, such as a GNU sparse file (found by fuzzing, docs/fuzzing.md).
            throw new InvalidDataException($"Bundle container is not a valid tar: {e.Message}", e);
        }
    }

    // TarReader reads a PAX attribute block or a GNU long name into one buffer sized by its header before it checks
    // that the container holds that many bytes: a 4 KB container declaring a 671 MB block allocated 671 MB (found by
    // fuzzing). So the headers are walked here first, at exactly the offsets TarReader reads them (each header is
    // followed by its data rounded up to 512 bytes), whatever magic they carry, and a size the container cannot hold is
    // refused before TarReader sees it. A header whose size field is not octal ends the walk: TarReader refuses it.
    private static void CheckMetadataBlockSizes(byte[] container)
    {
        long offset = 0;
        while (offset + 512 <= container.Length)
        {
            var header = container.AsSpan((int)offset, 512);
            if (!header.ContainsAnyExcept((byte)0)) return; // end-of-archive block
            if ((header[124] & 0x80) != 0)
                throw new InvalidDataException($"Bundle container: the header at offset {offset} has a base-256 size; bundles never need one.");
            if (ParseOctal(header.Slice(124, 12)) is not { } size) return;
            var remaining = container.Length - offset - 512;
            if (size > remaining)
                throw new InvalidDataException($"Bundle container: the header at offset {offset} declares {size} bytes but only {remaining} follow (truncated or forged).");
            offset += 512 + ((size + 511) / 512 * 512);
        }
    }

    private static long? ParseOctal(ReadOnlySpan<byte> field)
    {
        long size = 0;
        var digits = 0;
        foreach (var b in field)
        {
            if (b is >= (byte)'0' and <= (byte)'7')
            {
                size = (size * 8) + (b - '0');
                digits++;
            }
            else if (b is not (0 or (byte)' ') || digits > 0)
            {
                break;
            }
        }
        return digits > 0 ? size : null;
    }

    private static void ExtractEntry(TarEntry entry, string root)
    {
        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
            throw new InvalidDataException($"Bundle entry '{entry.Name}' is a {entry.EntryType}; bundles hold regular files only.");
        // These cannot name a file: they threw ArgumentException (NUL) or UnauthorizedAccessException (trailing '/').
        if (entry.Name.Length == 0 || entry.Name.Contains('\0', StringComparison.Ordinal) || entry.Name.EndsWith('/'))
            throw new InvalidDataException($"Bundle entry '{entry.Name.Replace("\0", "\\0", StringComparison.Ordinal)}' is not a file name.");
        var path = Path.GetFullPath(Path.Combine(root, entry.Name));
        if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidDataException($"Bundle entry '{entry.Name}' points outside the target directory; refusing to extract.");
        // One entry's file where another needs a directory, or the reverse, threw IOException / UnauthorizedAccessException.
        for (var dir = Path.GetDirectoryName(path); dir is not null && dir.Length > root.Length; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(dir))
                throw new InvalidDataException($"Bundle entry '{entry.Name}' needs a directory where an earlier entry is a file.");
        }
        if (Directory.Exists(path))
            throw new InvalidDataException($"Bundle entry '{entry.Name}' is a file where an earlier entry made a directory.");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var output = File.Create(path);
        entry.DataStream?.CopyTo(output);
    }

    /// <summary>Splits a container into chunks of <paramref name="chunkSize"/> bytes (the last may be shorter; an empty container is one empty chunk).</summary>
    public static IReadOnlyList<BundleChunk> Split(byte[] container, string modelName, string version, int chunkSize = DefaultChunkSize)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSize);
        var count = Math.Max(1, (container.Length + chunkSize - 1) / chunkSize);
        var chunks = new BundleChunk[count];
        for (var i = 0; i < count; i++)
        {
            var start = i * chunkSize;
            var length = Math.Min(chunkSize, container.Length - start);
            chunks[i] = new BundleChunk(modelName, version, i, count, container.AsSpan(start, length).ToArray());
        }
        return chunks;
    }

    /// <summary>The unsigned release describing <paramref name="container"/>; sign it with <see cref="ReleaseSigner.Sign"/>.</summary>
    public static Release CreateRelease(byte[] container, string modelName, string version, string cohort, int chunkSize = DefaultChunkSize, string? parentVersion = null)
    {
        var chunks = Split(container, modelName, version, chunkSize);
        return new Release
        {
            ModelName = modelName,
            Version = version,
            ParentVersion = parentVersion,
            Cohort = cohort,
            BundleSha256 = Convert.ToHexStringLower(SHA256.HashData(container)),
            BundleSize = container.Length,
            ChunkSize = chunkSize,
            ChunkCount = chunks.Count,
            ChunkSha256 = chunks.Select(c => c.Sha256Hex).ToArray(),
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()),
        };
    }
}
