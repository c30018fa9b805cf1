namespace ContinualLearning.Fuzz;

/// <summary>
/// Per-process scratch directories for the targets that go through the file system (bundle extraction, chunk
/// state). Under CL_FUZZ_SCRATCH (fuzz/run.sh points it at tmpfs), else the temp directory.
/// </summary>
internal static class Scratch
{
    private static readonly string Root = Path.Combine(
        Environment.GetEnvironmentVariable("CL_FUZZ_SCRATCH") is { Length: > 0 } s ? s : Path.GetTempPath(),
        $"cl-fuzz-{Environment.ProcessId}");

    /// <summary>An empty directory named <paramref name="name"/>, emptied first if a previous input left it behind.</summary>
    public static string Fresh(string name)
    {
        var path = Path.Combine(Root, name);
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        Directory.CreateDirectory(path);
        return path;
    }
}
