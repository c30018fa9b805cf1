using System.Runtime.CompilerServices;

namespace ContinualLearning.Tests.FleetConsole;

/// <summary>
/// A fact that needs Debian's Chromium (driven by Playwright through its executable path; no browser is ever
/// downloaded): skipped with a message when it is not installed, unless CL_REQUIRE_BROWSER=1 (set by .ci/run), where
/// the test runs and fails on the missing browser.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber) =>
        Skip = Chromium.Dependency.SkipReason(Chromium.FindExecutable() is not null);
}

/// <summary>Where Chromium is: <c>CL_CHROMIUM</c> when set, else Debian's <c>/usr/bin/chromium</c> (or <c>chromium</c> on PATH).</summary>
internal static class Chromium
{
    public static TestDependency Dependency { get; } =
        new("Chromium", "CL_REQUIRE_BROWSER", "sudo apt-get install chromium, or set CL_CHROMIUM to a Chromium executable");

    public static string? FindExecutable()
    {
        if (Environment.GetEnvironmentVariable("CL_CHROMIUM") is { Length: > 0 } configured) return File.Exists(configured) ? configured : null;
        string[] candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "chromium"));
        return candidates.Concat(onPath).FirstOrDefault(File.Exists);
    }
}
