using System.Runtime.InteropServices;

namespace ContinualLearning.IO;

/// <summary>
/// Crash-safe file replacement: after a crash (power loss included) a reader sees either the complete old
/// content or the complete new content, never a torn mix. Champion/challenger checkpoints and bundles rely on it.
/// </summary>
/// <remarks>
/// Recipe (POSIX): write a temp file in the SAME directory (rename is only atomic within one file system),
/// fsync it (so the data is on disk before the name points at it), rename over the target, then fsync the
/// directory (so the rename itself survives a power cut). On Windows the directory fsync is skipped: NTFS
/// journals the rename and there is no API to flush a directory handle.
/// </remarks>
public static partial class AtomicFile
{
    /// <summary>Suffix of in-flight temp files; anything ending in it is garbage from an interrupted write.</summary>
    public const string TempSuffix = ".cltmp";

    /// <summary>Atomically replaces (or creates) <paramref name="path"/> with <paramref name="bytes"/>.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        // A span cannot be captured by a lambda, so this overload does its own write.
        var (fullPath, temp) = Prepare(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            Commit(temp, fullPath);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// Atomically replaces (or creates) <paramref name="path"/> with what <paramref name="write"/> writes to the
    /// stream it is given; use it for content too large to hold in memory (e.g. an ONNX backbone).
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var (fullPath, temp) = Prepare(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 81920))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            Commit(temp, fullPath);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// Flushes a directory's entries (new names, renames, deletions) to disk. Best effort: a no-op where the
    /// platform offers no way to do it (Windows) — never throws for that reason.
    /// </summary>
    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            var fd = NativeMethods.Open(directory, 0 /* O_RDONLY */);
            if (fd < 0) return;
            try
            {
                _ = NativeMethods.Fsync(fd);
            }
            finally
            {
                _ = NativeMethods.Close(fd);
            }
        }
        catch (DllNotFoundException)
        {
            // No libc under that name (unusual platform): durability of the rename is then up to the OS.
        }
        catch (EntryPointNotFoundException)
        {
        }
    }

    private static (string FullPath, string Temp) Prepare(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"'{path}' has no parent directory to hold a temp file.", nameof(path));
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write '{fullPath}': directory '{directory}' does not exist. Create it first.");
        // Dot-prefixed and unique, so concurrent writers never share a temp file and directory listings skip it.
        var temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}{TempSuffix}");
        return (fullPath, temp);
    }

    private static void Commit(string temp, string fullPath)
    {
        File.Move(temp, fullPath, overwrite: true); // rename(2) on Unix, MoveFileEx(REPLACE_EXISTING) on Windows
        FsyncDirectory(Path.GetDirectoryName(fullPath)!);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        internal static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);
    }
}
