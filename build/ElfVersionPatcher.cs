// Compiled twice: by MSBuild's RoslynCodeTaskFactory (build/TorchSharp.targets), which targets
// netstandard2.0 and defines no symbols, and by the unit-test project (NET defined), which tests the pure
// patcher without referencing MSBuild. Hence byte[] instead of Span, and the task wrapper under #if !NET.
#nullable enable

using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace ContinualLearning.Build;

/// <summary>What <see cref="ElfVersionPatcher.MarkVersionWeak(byte[], string)"/> did.</summary>
internal enum ElfPatchOutcome
{
    /// <summary>The file does not need the version at all; nothing changed.</summary>
    VersionNotNeeded,
    /// <summary>Every need of the version was already weak; nothing changed (idempotence).</summary>
    AlreadyWeak,
    /// <summary>At least one need was made weak.</summary>
    Patched,
}

/// <summary>
/// Marks a symbol-version need of an ELF64 little-endian shared object as weak (VER_FLG_WEAK in
/// <c>vna_flags</c> of its Vernaux entry in <c>.gnu.version_r</c>). The dynamic loader then accepts the
/// library when the providing library lacks that version instead of refusing to load it.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107.0's libLibTorchSharp.so was linked by GCC 13 and needs GLIBCXX_3.4.32 only for
/// <c>_ZSt21ios_base_library_initv</c>, a symbol GCC 13's &lt;iostream&gt; references to force linking and
/// never calls. Debian 12 / Ubuntu 22.04 / Raspberry Pi OS bookworm ship GLIBCXX_3.4.30, so the library
/// fails to load there although nothing it calls is missing.
/// </remarks>
internal static class ElfVersionPatcher
{
    /// <summary>The version libLibTorchSharp.so of TorchSharp 0.107.0 needs and Debian 12 lacks.</summary>
    public const string TorchSharpGlibcxxVersion = "GLIBCXX_3.4.32";

    /// <summary>VER_FLG_WEAK from elf.h.</summary>
    public const ushort VerFlagWeak = 0x2;

    /// <summary>SHT_GNU_verneed from elf.h: the section type of .gnu.version_r.</summary>
    public const uint ShtGnuVerneed = 0x6ffffffe;

    private const int ElfHeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const int VerneedSize = 16;
    private const int VernauxSize = 16;

    private static readonly char[] PathListSeparator = { ':' };

    private static readonly string[] LibraryDirectories =
    {
        "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
        "/usr/lib64", "/lib64", "/usr/lib", "/lib",
    };

    /// <summary>
    /// Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="versionName"/> in <paramref name="image"/>
    /// (modified in place). Idempotent.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed ELF64 little-endian file.</exception>
    public static ElfPatchOutcome MarkVersionWeak(byte[] image, string versionName)
    {
        if (image is null) throw new ArgumentNullException(nameof(image));
        if (string.IsNullOrEmpty(versionName)) throw new ArgumentException("A version name such as GLIBCXX_3.4.32 is required.", nameof(versionName));

        var found = false;
        var patched = false;
        foreach (var offset in FindVernauxFlagOffsets(image, versionName))
        {
            found = true;
            var flags = ReadU16(image, offset);
            if ((flags & VerFlagWeak) != 0) continue;
            WriteU16(image, offset, (ushort)(flags | VerFlagWeak));
            patched = true;
        }
        return patched ? ElfPatchOutcome.Patched : found ? ElfPatchOutcome.AlreadyWeak : ElfPatchOutcome.VersionNotNeeded;
    }

    /// <summary>
    /// Reports whether every need of <paramref name="versionName"/> in <paramref name="image"/> is weak;
    /// null when the image does not need that version.
    /// </summary>
    public static bool? IsVersionWeak(byte[] image, string versionName)
    {
        bool? result = null;
        foreach (var offset in FindVernauxFlagOffsets(image, versionName))
            result = (result ?? true) && (ReadU16(image, offset) & VerFlagWeak) != 0;
        return result;
    }

    /// <summary>
    /// Patches the file at <paramref name="path"/>. When a change is needed, the file is replaced by a new
    /// file (copy, patch, rename over) so that a hard link into the NuGet cache is never written through.
    /// The original last-write time is kept so MSBuild's incremental copy (size + timestamp) does not
    /// overwrite the patched copy with the package's original on the next build.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed ELF64 little-endian file; the message names it.</exception>
    public static ElfPatchOutcome MarkVersionWeakInFile(string path, string versionName)
    {
        var image = File.ReadAllBytes(path);
        ElfPatchOutcome outcome;
        try
        {
            outcome = MarkVersionWeak(image, versionName);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"Cannot patch '{path}': {ex.Message}", ex);
        }
        if (outcome != ElfPatchOutcome.Patched) return outcome;

        var lastWrite = File.GetLastWriteTimeUtc(path);
        var temp = path + ".patching-" + Guid.NewGuid().ToString("N");
        try
        {
            // File.Copy keeps the permission bits; then the new inode gets the patched bytes.
            File.Copy(path, temp, overwrite: true);
            using (var stream = new FileStream(temp, FileMode.Truncate, FileAccess.Write))
                stream.Write(image, 0, image.Length);
            File.SetLastWriteTimeUtc(temp, lastWrite);
            // Rename over the original (atomic on Unix): the old inode, possibly a hard link into the NuGet
            // cache, is never written.
            File.Replace(temp, path, destinationBackupFileName: null);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return outcome;
    }

    /// <summary>Where Linux distributions keep libstdc++.so.6 (multiarch, lib64 and plain layouts).</summary>
    public static IReadOnlyList<string> LibStdCxxCandidates()
    {
        var dirs = new List<string>();
        var ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        if (!string.IsNullOrEmpty(ldPath))
            dirs.AddRange(ldPath!.Split(PathListSeparator, StringSplitOptions.RemoveEmptyEntries));
        dirs.AddRange(LibraryDirectories);
        var result = new List<string>();
        foreach (var dir in dirs)
        {
            var candidate = Path.Combine(dir, "libstdc++.so.6");
            if (!result.Contains(candidate)) result.Add(candidate);
        }
        return result;
    }

    /// <summary>
    /// Finds the host's libstdc++.so.6 and reports whether it defines <paramref name="versionName"/>
    /// (by looking for the NUL-terminated version string, which a library defining it must carry).
    /// Returns null when no libstdc++ was found.
    /// </summary>
    public static bool? HostLibStdCxxHasVersion(string versionName, out string? libraryPath)
    {
        foreach (var candidate in LibStdCxxCandidates())
        {
            if (!File.Exists(candidate)) continue;
            libraryPath = candidate;
            return ContainsNulTerminated(File.ReadAllBytes(candidate), versionName);
        }
        libraryPath = null;
        return null;
    }

    /// <summary>True when <paramref name="haystack"/> contains <paramref name="text"/> followed by a NUL byte.</summary>
    public static bool ContainsNulTerminated(byte[] haystack, string text)
    {
        var needle = Encoding.ASCII.GetBytes(text + "\0");
        var last = haystack.Length - needle.Length;
        for (var i = 0; i <= last; i++)
        {
            if (haystack[i] != needle[0]) continue;
            var j = 1;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }

    /// <summary>File offsets of the vna_flags fields of every Vernaux entry named <paramref name="versionName"/>.</summary>
    private static List<int> FindVernauxFlagOffsets(byte[] image, string versionName)
    {
        if (image.Length < ElfHeaderSize)
            throw new InvalidDataException($"file is {image.Length} bytes, shorter than an ELF64 header ({ElfHeaderSize} bytes).");
        if (image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file (magic bytes 7f 45 4c 46 missing).");
        if (image[4] != 2)
            throw new InvalidDataException($"ELF class {image[4]} is not ELFCLASS64 (2); only 64-bit files are supported.");
        if (image[5] != 1)
            throw new InvalidDataException($"ELF data encoding {image[5]} is not little-endian (1); only little-endian files are supported.");

        var shoff = ReadU64(image, 0x28, "e_shoff");
        var shentsize = ReadU16(image, 0x3A);
        long shnum = ReadU16(image, 0x3C);
        if (shoff == 0)
            throw new InvalidDataException("the file has no section header table (e_shoff = 0), so .gnu.version_r cannot be found.");
        if (shentsize != SectionHeaderSize)
            throw new InvalidDataException($"section header size e_shentsize = {shentsize}, expected {SectionHeaderSize} for ELF64.");
        if (shnum == 0)
            shnum = (long)ReadU64(image, CheckedRange(image, shoff, SectionHeaderSize, "section header 0") + 32, "section 0 sh_size"); // extended numbering
        CheckedRange(image, shoff, (ulong)shnum * SectionHeaderSize, "section header table");

        var offsets = new List<int>();
        var name = Encoding.ASCII.GetBytes(versionName);
        for (long s = 0; s < shnum; s++)
        {
            var sh = (int)shoff + (int)(s * SectionHeaderSize);
            if (ReadU32(image, sh + 4) != ShtGnuVerneed) continue;

            var secOffset = CheckedRange(image, ReadU64(image, sh + 24, "sh_offset"), ReadU64(image, sh + 32, "sh_size"), $"section {s} (.gnu.version_r)");
            var secSize = (int)ReadU64(image, sh + 32, "sh_size");
            var link = ReadU32(image, sh + 40);
            var entries = ReadU32(image, sh + 44);
            if (link >= shnum)
                throw new InvalidDataException($".gnu.version_r links to string table section {link}, but the file has {shnum} sections.");
            var strSh = (int)shoff + (int)(link * SectionHeaderSize);
            var strSize = ReadU64(image, strSh + 32, "sh_size");
            var strOffset = CheckedRange(image, ReadU64(image, strSh + 24, "sh_offset"), strSize, $"string table section {link}");

            var need = 0;
            for (uint n = 0; n < entries; n++)
            {
                if (need < 0 || need + VerneedSize > secSize)
                    throw new InvalidDataException($"Verneed entry {n} at offset {need} runs past .gnu.version_r ({secSize} bytes).");
                var vn = secOffset + need;
                var count = ReadU16(image, vn + 2);
                var aux = need + (int)ReadU32(image, vn + 8);
                for (var a = 0; a < count; a++)
                {
                    if (aux < 0 || aux + VernauxSize > secSize)
                        throw new InvalidDataException($"Vernaux entry {a} of Verneed {n} at offset {aux} runs past .gnu.version_r ({secSize} bytes).");
                    var vna = secOffset + aux;
                    var nameOffset = ReadU32(image, vna + 8);
                    if (nameOffset >= strSize)
                        throw new InvalidDataException($"Vernaux name offset {nameOffset} lies outside the string table ({strSize} bytes).");
                    if (NameEquals(image, strOffset + (int)nameOffset, strOffset + (int)strSize, name))
                        offsets.Add(vna + 4);
                    var next = (int)ReadU32(image, vna + 12);
                    if (next == 0) break;
                    aux += next;
                }
                var nextNeed = (int)ReadU32(image, vn + 12);
                if (nextNeed == 0) break;
                need += nextNeed;
            }
        }
        return offsets;
    }

    private static bool NameEquals(byte[] image, int start, int end, byte[] name)
    {
        if (start + name.Length >= end) return false; // room for the name and its NUL
        for (var i = 0; i < name.Length; i++)
            if (image[start + i] != name[i]) return false;
        return image[start + name.Length] == 0;
    }

    /// <summary>Checks [offset, offset+length) lies inside the file and returns offset as int.</summary>
    private static int CheckedRange(byte[] image, ulong offset, ulong length, string what)
    {
        if (offset > (ulong)image.Length || length > (ulong)image.Length - offset)
            throw new InvalidDataException($"{what} (offset {offset}, {length} bytes) lies outside the {image.Length}-byte file; the file is truncated or corrupt.");
        return (int)offset;
    }

    private static ushort ReadU16(byte[] b, int o)
    {
        CheckedRange(b, (ulong)o, 2, "field");
        return (ushort)(b[o] | (b[o + 1] << 8));
    }

    private static void WriteU16(byte[] b, int o, ushort value)
    {
        b[o] = (byte)value;
        b[o + 1] = (byte)(value >> 8);
    }

    private static uint ReadU32(byte[] b, int o)
    {
        CheckedRange(b, (ulong)o, 4, "field");
        return (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
    }

    private static ulong ReadU64(byte[] b, int o, string field)
    {
        CheckedRange(b, (ulong)o, 8, field);
        return ReadU32(b, o) | ((ulong)ReadU32(b, o + 4) << 32);
    }
}

#if !NET
/// <summary>
/// MSBuild task: marks GLIBCXX_3.4.32 weak in the given output copies of libLibTorchSharp.so when the
/// host's libstdc++ lacks that version (Mode "auto"), always ("always") or never ("never").
/// </summary>
public sealed class PatchTorchSharpNative : Microsoft.Build.Utilities.Task
{
    /// <summary>Output copies of libLibTorchSharp.so (never the NuGet cache).</summary>
    [Microsoft.Build.Framework.Required]
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    /// <summary>auto | always | never.</summary>
    public string Mode { get; set; } = "auto";

    public string VersionName { get; set; } = ElfVersionPatcher.TorchSharpGlibcxxVersion;

    public override bool Execute()
    {
        var mode = (Mode ?? "auto").Trim().ToLowerInvariant();
        if (mode == "never") return true;
        if (mode != "auto" && mode != "always")
        {
            Log.LogError($"TorchSharpWeakGlibcxx = '{Mode}' is not valid; use auto, always or never.");
            return false;
        }
        if (mode == "auto")
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux))
                return true;
            var has = ElfVersionPatcher.HostLibStdCxxHasVersion(VersionName, out var lib);
            if (has == true)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"{lib} defines {VersionName}; libLibTorchSharp.so left as shipped.");
                return true;
            }
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                lib is null ? $"No libstdc++.so.6 found; marking {VersionName} weak anyway (harmless where it exists)." : $"{lib} lacks {VersionName}.");
        }
        foreach (var item in Files)
        {
            var path = item.ItemSpec;
            try
            {
                var outcome = ElfVersionPatcher.MarkVersionWeakInFile(path, VersionName);
                if (outcome == ElfPatchOutcome.Patched)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"Marked {VersionName} weak in {path} so TorchSharp loads with this host's libstdc++.");
            }
            catch (Exception ex) when (ex is InvalidDataException || ex is IOException || ex is UnauthorizedAccessException)
            {
                Log.LogError($"Could not patch {path} for {VersionName}: {ex.Message} Delete the output folder and rebuild, or set -p:TorchSharpWeakGlibcxx=never to skip.");
            }
        }
        return !Log.HasLoggedErrors;
    }
}
#endif
