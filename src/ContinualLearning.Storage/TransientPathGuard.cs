namespace ContinualLearning.Storage;

/// <summary>
/// Finds the filesystem a path lives on from /proc/self/mountinfo, so the store can refuse persistent storage.
/// The mount point chosen is the longest one that is a path-component prefix of the path with symlinks resolved;
/// among equal mount points the last line wins (a later mount hides an earlier one at the same place).
/// </summary>
internal static class TransientPathGuard
{
    /// <summary>Filesystem types whose contents live in RAM only.</summary>
    public static readonly IReadOnlySet<string> RamFileSystems = new HashSet<string>(StringComparer.Ordinal) { "tmpfs", "ramfs" };

    public const string MountInfoPath = "/proc/self/mountinfo";

    /// <summary>The filesystem type and mount point of <paramref name="path"/>, or null when mountinfo is unreadable (not Linux).</summary>
    public static (string FsType, string MountPoint)? FindFileSystem(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(MountInfoPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return FindFileSystem(ResolvePath(path), text);
    }

    /// <summary>Pure lookup over mountinfo text; <paramref name="resolvedPath"/> must be absolute and free of symlinks.</summary>
    public static (string FsType, string MountPoint)? FindFileSystem(string resolvedPath, string mountInfo)
    {
        (string, string)? best = null;
        var bestLength = -1;
        foreach (var rawLine in mountInfo.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0) continue;
            // Fields: id parent major:minor root mount-point options [optional...] - fstype source super-options
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || dash < 0 || dash + 1 >= fields.Length) continue;
            var mountPoint = Unescape(fields[4]);
            if (!IsUnder(resolvedPath, mountPoint)) continue;
            if (mountPoint.Length >= bestLength)
            {
                bestLength = mountPoint.Length;
                best = (fields[dash + 1], mountPoint);
            }
        }
        return best;
    }

    /// <summary>Throws with the path, the filesystem found and the option to set, unless the path is on tmpfs/ramfs or persistence is allowed.</summary>
    public static void EnsureTransient(string path, bool allowPersistent)
    {
        if (allowPersistent) return;
        var fs = FindFileSystem(path);
        if (fs is null)
            throw new InvalidOperationException(
                $"Cannot tell which filesystem '{path}' is on ({MountInfoPath} is unreadable), so the sample store cannot prove raw samples stay in RAM. " +
                $"Put the database on a tmpfs (e.g. /dev/shm) on Linux, or set {nameof(SampleStoreOptions)}.{nameof(SampleStoreOptions.AllowPersistent)} = true to accept persistent storage.");
        if (!RamFileSystems.Contains(fs.Value.FsType))
            throw new InvalidOperationException(
                $"Sample store path '{path}' is on a persistent filesystem (type '{fs.Value.FsType}', mounted at '{fs.Value.MountPoint}'); raw samples must stay in RAM. " +
                $"Use a path on tmpfs or ramfs (e.g. /dev/shm or $XDG_RUNTIME_DIR), or set {nameof(SampleStoreOptions)}.{nameof(SampleStoreOptions.AllowPersistent)} = true to allow it.");
    }

    internal static bool IsUnder(string path, string mountPoint)
    {
        if (mountPoint == "/") return path.StartsWith('/');
        return path.StartsWith(mountPoint, StringComparison.Ordinal)
            && (path.Length == mountPoint.Length || path[mountPoint.Length] == '/');
    }

    /// <summary>Resolves symlinks component by component (the tail may not exist yet), like realpath(3) for the existing part.</summary>
    internal static string ResolvePath(string path)
    {
        var full = Path.GetFullPath(path);
        for (var hops = 0; hops < 40; hops++)
        {
            var parts = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var current = "/";
            var replaced = false;
            for (var i = 0; i < parts.Length; i++)
            {
                var next = Path.Combine(current, parts[i]);
                FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
                if (info.Exists && info.LinkTarget is { } target)
                {
                    var resolved = Path.GetFullPath(target, current);
                    full = Path.Combine([resolved, .. parts[(i + 1)..]]);
                    replaced = true;
                    break;
                }
                if (!info.Exists) return Path.Combine([next, .. parts[(i + 1)..]]);
                current = next;
            }
            if (!replaced) return full;
        }
        throw new IOException($"Too many symbolic links while resolving '{path}'.");
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var sb = new System.Text.StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                sb.Append((char)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
