using ContinualLearning.IO;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Removes what interrupted writes leave in a registry directory: <see cref="AtomicFile"/> temp files, the <c>*.tmp</c>
/// files of earlier versions and half-extracted <c>*.tmp</c> cache directories. Only entries older than a grace period
/// go, because another aggregator instance sharing the directory may be writing one right now.
/// </summary>
internal static class TempFiles
{
    /// <summary>How old a temp entry must be before a sweep deletes it: far longer than any artifact write or extraction.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(10);

    private const string LegacySuffix = ".tmp";

    /// <summary>Deletes the temp files and directories in <paramref name="directory"/> last written before <paramref name="before"/>; returns how many.</summary>
    public static int Sweep(string directory, DateTimeOffset before)
    {
        if (!Directory.Exists(directory)) return 0;
        var swept = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            var name = Path.GetFileName(entry);
            if (!name.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal) && !name.EndsWith(LegacySuffix, StringComparison.Ordinal)) continue;
            var isDirectory = Directory.Exists(entry);
            var written = isDirectory ? Directory.GetLastWriteTimeUtc(entry) : File.GetLastWriteTimeUtc(entry);
            if (written >= before.UtcDateTime) continue;
            if (isDirectory) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
            swept++;
        }
        if (swept > 0) AtomicFile.FsyncDirectory(directory);
        return swept;
    }
}
