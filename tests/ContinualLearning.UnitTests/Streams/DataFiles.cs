using System.Runtime.CompilerServices;

namespace ContinualLearning.UnitTests.Streams;

/// <summary>
/// Locates the shared data folder: $CL_DATA_DIR if set, else the first ancestor of the test binaries
/// holding <c>shared/data</c> (works from /work/main and from worktrees below /work/wt).
/// </summary>
internal static class DataFiles
{
    public static string? Find(string fileName)
    {
        var env = Environment.GetEnvironmentVariable("CL_DATA_DIR");
        if (!string.IsNullOrEmpty(env))
        {
            var p = Path.Combine(env, fileName);
            return File.Exists(p) ? p : null;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, "shared", "data", fileName);
            if (File.Exists(p))
            {
                return p;
            }
        }
        return null;
    }

    public static string Elec2 => Find("elec2.csv") ?? throw new InvalidOperationException("elec2.csv not found (the test should have been skipped).");
}

/// <summary>A fact that is skipped, with the reason, when a data file is not available (decided at discovery).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FactRequiresDataAttribute : FactAttribute
{
    public FactRequiresDataAttribute(string fileName, [CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        FileName = fileName;
        if (DataFiles.Find(fileName) is null)
        {
            Skip = $"Data file '{fileName}' not found: no shared/data folder above the test binaries and CL_DATA_DIR unset.";
        }
    }

    public string FileName { get; }
}
