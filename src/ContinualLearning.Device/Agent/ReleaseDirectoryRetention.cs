using ContinualLearning.IO;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// Keeps <c>releases/</c> from growing with every release: after a successful install only the installed version's
/// directory, the one it replaced (the rollback target) and the download in progress under <c>incoming/</c> stay;
/// at start, leftovers of interrupted writes (<c>*.tmp</c>, <c>*.cltmp</c>) are removed. The learner keeps its own
/// copy of every installed base in its model store, so nothing it serves lives in a deleted directory.
/// </summary>
internal static partial class ReleaseDirectoryRetention
{
    /// <summary>Where chunks of releases being downloaded are collected (<c>releases/incoming/{version}</c>).</summary>
    public const string IncomingDirectoryName = "incoming";

    /// <summary>
    /// After <paramref name="installed"/> was installed: deletes every other release directory except the base it replaced
    /// (<see cref="DeviceRuntime.ReplacedBaseVersion"/>), and every download under <c>incoming/</c> except
    /// <paramref name="fetching"/> and any started since this call began. Returns how many directories were deleted.
    /// Best effort: a directory that cannot be deleted is logged and left for the next install.
    /// </summary>
    public static int Prune(DeviceRuntime runtime, string installed, string? fetching, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var releases = runtime.Options.ReleasesDirectory;
        if (!Directory.Exists(releases)) return 0;
        // A download that starts while this runs creates its directory now or later: it is newer than this and kept.
        // File times are the real clock's, so this is too (not the runtime's TimeProvider).
        var started = DateTime.UtcNow.AddSeconds(-1);
        var keep = new HashSet<string>(StringComparer.Ordinal) { installed, IncomingDirectoryName };
        if (runtime.ReplacedBaseVersion is { } previous) keep.Add(previous);
        var deleted = 0;
        foreach (var dir in Directory.EnumerateDirectories(releases).ToArray())
        {
            if (!keep.Contains(Path.GetFileName(dir)) && TryDelete(dir, logger)) deleted++;
        }
        var incoming = Path.Combine(releases, IncomingDirectoryName);
        if (Directory.Exists(incoming))
        {
            foreach (var dir in Directory.EnumerateDirectories(incoming).ToArray())
            {
                var name = Path.GetFileName(dir);
                if (name == fetching || Directory.GetLastWriteTimeUtc(dir) >= started) continue;
                if (TryDelete(dir, logger)) deleted++;
            }
        }
        if (deleted > 0)
        {
            AtomicFile.FsyncDirectory(releases);
            LogPruned(logger, deleted, releases, installed, runtime.ReplacedBaseVersion ?? "(none)");
        }
        return deleted;
    }

    /// <summary>At start: deletes temp files and directories that interrupted writes left anywhere under <c>releases/</c>.</summary>
    public static int SweepTemporary(string releasesDirectory, ILogger logger)
    {
        if (!Directory.Exists(releasesDirectory)) return 0;
        var swept = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries(releasesDirectory, "*", SearchOption.AllDirectories).ToArray())
        {
            if (!entry.EndsWith(".tmp", StringComparison.Ordinal) && !entry.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal)) continue;
            if (TryDelete(entry, logger)) swept++;
        }
        if (swept > 0) LogSwept(logger, swept, releasesDirectory);
        return swept;
    }

    /// <summary>
    /// Deletes a directory (with its contents) or a file, best effort: one that cannot be deleted is logged and left for
    /// a later attempt. True when it was deleted; false when it could not be (or was not there).
    /// </summary>
    public static bool TryDelete(string path, ILogger logger)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else if (File.Exists(path)) File.Delete(path);
            else return false;
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(logger, path, ex.Message);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} old release directories under {Directory}; kept {Installed} (installed), {Previous} (rollback target) and the download in progress.")]
    private static partial void LogPruned(ILogger logger, int count, string directory, string installed, string previous);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} temp files left by interrupted writes under {Directory}.")]
    private static partial void LogSwept(ILogger logger, int count, string directory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path} ({Reason}); it is left for a later attempt.")]
    private static partial void LogDeleteFailed(ILogger logger, string path, string reason);
}
