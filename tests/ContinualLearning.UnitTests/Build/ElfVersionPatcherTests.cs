using System.Runtime.InteropServices;
using System.Text;
using ContinualLearning.Build;

namespace ContinualLearning.UnitTests.Build;

public sealed partial class ElfVersionPatcherTests
{
    private const string Version = ElfVersionPatcher.TorchSharpGlibcxxVersion;
    private readonly ITestOutputHelper _output;

    public ElfVersionPatcherTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Patch_sets_weak_flag_on_the_named_need_only()
    {
        var image = MinimalElf.Build("GLIBCXX_3.4.30", Version, "CXXABI_1.3.13");

        var outcome = ElfVersionPatcher.MarkVersionWeak(image, Version);

        Assert.Equal(ElfPatchOutcome.Patched, outcome);
        Assert.Equal(ElfVersionPatcher.VerFlagWeak, MinimalElf.FlagsOf(image, 1));
        Assert.Equal(0, MinimalElf.FlagsOf(image, 0));
        Assert.Equal(0, MinimalElf.FlagsOf(image, 2));
        Assert.True(ElfVersionPatcher.IsVersionWeak(image, Version));
        Assert.False(ElfVersionPatcher.IsVersionWeak(image, "GLIBCXX_3.4.30"));
    }

    [Fact]
    public void Patch_keeps_other_flag_bits()
    {
        var image = MinimalElf.Build(Version);
        MinimalElf.SetFlags(image, 0, 0x1);

        ElfVersionPatcher.MarkVersionWeak(image, Version);

        Assert.Equal(0x1 | ElfVersionPatcher.VerFlagWeak, MinimalElf.FlagsOf(image, 0));
    }

    [Fact]
    public void Patch_is_idempotent()
    {
        var image = MinimalElf.Build("GLIBCXX_3.4.30", Version);
        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionPatcher.MarkVersionWeak(image, Version));
        var once = (byte[])image.Clone();

        Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionPatcher.MarkVersionWeak(image, Version));
        Assert.Equal(once, image);
    }

    [Fact]
    public void File_without_the_version_is_left_untouched()
    {
        var image = MinimalElf.Build("GLIBCXX_3.4.30", "GLIBCXX_3.4.320", "GLIBCXX_3.4.3");
        var before = (byte[])image.Clone();

        Assert.Equal(ElfPatchOutcome.VersionNotNeeded, ElfVersionPatcher.MarkVersionWeak(image, Version));
        Assert.Equal(before, image);
        Assert.Null(ElfVersionPatcher.IsVersionWeak(image, Version));
    }

    [Fact]
    public void Garbage_gives_a_clear_error()
    {
        var garbage = Encoding.ASCII.GetBytes(new string('x', 200));
        var ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(garbage, Version));
        Assert.Contains("not an ELF file", ex.Message);
    }

    [Fact]
    public void Short_file_gives_a_clear_error()
    {
        var ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(new byte[10], Version));
        Assert.Contains("shorter than an ELF64 header", ex.Message);
    }

    [Fact]
    public void Thirty_two_bit_elf_is_rejected_with_its_class()
    {
        var image = MinimalElf.Build(Version);
        image[4] = 1;
        var ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(image, Version));
        Assert.Contains("ELFCLASS64", ex.Message);
    }

    [Theory]
    [InlineData(100)]   // cuts the string table and version section
    [InlineData(200)]   // cuts the section header table
    [InlineData(-1)]    // drops only the last byte
    public void Truncated_file_gives_a_clear_error(int keep)
    {
        var full = MinimalElf.Build("GLIBCXX_3.4.30", Version);
        var length = keep < 0 ? full.Length + keep : keep;
        var truncated = full.AsSpan(0, length).ToArray();

        var ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeak(truncated, Version));
        Assert.Contains("truncated or corrupt", ex.Message);
    }

    [Fact]
    public void File_patch_reports_the_path_of_a_bad_file()
    {
        var dir = Directory.CreateTempSubdirectory("elfpatch-");
        try
        {
            var path = Path.Combine(dir.FullName, "bad.so");
            File.WriteAllBytes(path, new byte[100]);
            var ex = Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkVersionWeakInFile(path, Version));
            Assert.Contains(path, ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void File_patch_replaces_the_file_and_never_writes_through_a_hard_link()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The hard-link check uses Linux link(2).");
        var dir = Directory.CreateTempSubdirectory("elfpatch-");
        try
        {
            var cacheCopy = Path.Combine(dir.FullName, "cache.so");
            var outputCopy = Path.Combine(dir.FullName, "output.so");
            var original = MinimalElf.Build("GLIBCXX_3.4.30", Version);
            File.WriteAllBytes(cacheCopy, original);
            var stamp = new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(cacheCopy, stamp);
            Assert.Equal(0, Link(cacheCopy, outputCopy));

            Assert.Equal(ElfPatchOutcome.Patched, ElfVersionPatcher.MarkVersionWeakInFile(outputCopy, Version));

            Assert.Equal(original, File.ReadAllBytes(cacheCopy));
            Assert.True(ElfVersionPatcher.IsVersionWeak(File.ReadAllBytes(outputCopy), Version));
            // Same timestamp as the package file, so MSBuild's incremental copy leaves the patched copy alone.
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(outputCopy));
            Assert.Empty(Directory.GetFiles(dir.FullName, "*.patching-*"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Real_TorchSharp_native_gets_the_flag_in_a_copy()
    {
        var packageFile = TorchSharpPackageNative();
        var before = File.ReadAllBytes(packageFile);
        var dir = Directory.CreateTempSubdirectory("elfpatch-");
        try
        {
            var copy = Path.Combine(dir.FullName, "libLibTorchSharp.so");
            File.Copy(packageFile, copy);

            var first = ElfVersionPatcher.MarkVersionWeakInFile(copy, Version);
            var second = ElfVersionPatcher.MarkVersionWeakInFile(copy, Version);

            var patched = File.ReadAllBytes(copy);
            _output.WriteLine($"{packageFile}: package weak={ElfVersionPatcher.IsVersionWeak(before, Version)}, first={first}, second={second}");
            Assert.True(ElfVersionPatcher.IsVersionWeak(patched, Version));
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, second);
            Assert.Equal(before.Length, patched.Length);
            // Exactly one 16-bit field differs: nothing else in the library was touched.
            Assert.Equal(1, Enumerable.Range(0, before.Length).Count(i => before[i] != patched[i]));
            Assert.Equal(before, File.ReadAllBytes(packageFile));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Build_output_copy_is_weak_when_the_host_lacks_the_version()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The build step only acts on Linux hosts.");
        // RID-specific builds (our default, see Directory.Build.props) put natives next to the assembly; RID-less ones under runtimes/.
        var flat = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        var nested = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        var outputCopy = File.Exists(flat) ? flat : nested;
        Assert.True(File.Exists(outputCopy), $"The build did not copy libLibTorchSharp.so to {flat} or {nested}.");
        var hostHas = ElfVersionPatcher.HostLibStdCxxHasVersion(Version, out var lib);
        var weak = ElfVersionPatcher.IsVersionWeak(File.ReadAllBytes(outputCopy), Version);
        _output.WriteLine($"host libstdc++ {lib ?? "(none)"} has {Version}: {hostHas}; output copy weak: {weak}");
        if (hostHas != true)
            Assert.True(weak, $"{outputCopy} still needs {Version} strictly although {lib} lacks it; build/TorchSharp.targets did not run.");
    }

    [Fact]
    public void Host_scan_finds_versions_by_nul_terminated_name()
    {
        var bytes = Encoding.ASCII.GetBytes("xxGLIBCXX_3.4.320\0GLIBCXX_3.4.3\0");
        Assert.False(ElfVersionPatcher.ContainsNulTerminated(bytes, "GLIBCXX_3.4.32"));
        Assert.True(ElfVersionPatcher.ContainsNulTerminated(bytes, "GLIBCXX_3.4.3"));
        Assert.True(ElfVersionPatcher.ContainsNulTerminated(bytes, "GLIBCXX_3.4.320"));
    }

    private static string TorchSharpPackageNative()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(root))
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"TorchSharp 0.107.0 native not found at {path}; run 'dotnet restore' (or set NUGET_PACKAGES).");
        return path;
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string newPath);
}
