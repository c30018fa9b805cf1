using System.Security.Cryptography;

namespace ContinualLearning.Fleet.Identity;

/// <summary>
/// Private-key files: written with mode 0600 from the first byte, and refused on load when the group or others can
/// read or write them (as OpenSSH refuses a world-readable identity). A key that others could read must be assumed
/// copied, so loading it silently would hide the leak.
/// </summary>
public static class SecretFiles
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Writes <paramref name="text"/> to a new owner-only file. An existing file is replaced only with
    /// <paramref name="overwrite"/>, and it is deleted first: opening it would keep its old (possibly 0644) mode.
    /// </summary>
    public static void Write(string path, string text, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(text);
        if (File.Exists(path))
        {
            if (!overwrite) throw new IOException($"'{path}' already exists; refusing to replace a private key (pass --force if you mean it).");
            File.Delete(path);
        }
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        // The umask cannot widen UnixCreateMode, but a file system that ignores modes (e.g. a FAT card) can: check.
        CheckMode(path);
    }

    /// <summary>Reads a private-key file after checking that only its owner can read or write it.</summary>
    public static string Read(string path, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"The {what} file '{path}' does not exist.", path);
        CheckMode(path, what);
        return File.ReadAllText(path);
    }

    /// <summary>Throws when group or others have any access to <paramref name="path"/> (no-op on Windows, which has ACLs instead).</summary>
    public static void CheckMode(string path, string what = "private key")
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOthers) != 0)
            throw new CryptographicException(
                $"The {what} file '{path}' has mode {Octal(mode)}: others can read it, so it must be assumed leaked. "
                + $"Run `chmod 600 {path}` if you are sure it was not copied, or make a new one.");
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0x1FF, 8).PadLeft(4, '0');
}
