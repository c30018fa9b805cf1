using System.Diagnostics;
using ContinualLearning.Learning;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>
/// SIGKILLs a child process that loops writing checkpoints, at random moments, many times; after every kill the
/// model store must open, and its champion must load and verify and be either the last committed or the
/// in-flight version — never corrupt, never half-written, never a third version.
/// </summary>
public sealed class CheckpointCrashTests(ITestOutputHelper output)
{
    private const int Kills = 40;

    [Fact]
    public void Champion_survives_sigkill_at_random_points()
    {
        var child = ChildPath();
        var dir = Path.Combine(Path.GetTempPath(), "cl-crash-tests", Guid.NewGuid().ToString("N"));
        var rng = new Random(12345);
        string? known = null; // champion version verified after the previous kill
        int midWrite = 0, committedTotal = 0;
        var versionsSeen = new HashSet<string>();
        try
        {
            for (var k = 0; k < Kills; k++)
            {
                var lines = RunAndKill(child, dir, TimeSpan.FromMilliseconds(rng.Next(150, 700)));
                string? lastCommitted = null, lastAttempt = null;
                foreach (var line in lines)
                {
                    if (line.StartsWith("committed ", StringComparison.Ordinal)) { lastCommitted = line[10..]; lastAttempt = null; committedTotal++; }
                    else if (line.StartsWith("attempt ", StringComparison.Ordinal)) lastAttempt = line[8..];
                }
                var expectedOld = lastCommitted ?? known;
                if (expectedOld is null && lastAttempt is null)
                    continue; // killed before the child wrote anything

                var store = new CheckpointStore(dir);
                if (store.Current is null)
                {
                    Assert.Null(expectedOld); // only possible when the very first install was interrupted
                    midWrite++;
                    continue;
                }
                var champion = store.LoadChampion(); // verifies hashes, schema, finite weights
                var version = champion.Manifest.Version;
                Assert.True(version == expectedOld || version == lastAttempt,
                    $"Kill {k}: champion is {version}; expected the last committed {expectedOld ?? "(none)"} or the in-flight {lastAttempt ?? "(none)"}.");
                if (lastAttempt is not null && version == lastAttempt && version != expectedOld) midWrite++;

                // The weights belong to this manifest: every value equals the local number n (0 for the base).
                var n = version.Contains("-local.", StringComparison.Ordinal) ? float.Parse(version[(version.LastIndexOf('.') + 1)..]) : 0f;
                Assert.All(champion.HeadWeights, t => Assert.All(t.Data, v => Assert.Equal(n, v)));
                store.LoadBase();
                store.LoadPrevious();
                var named = new[] { store.Current.Champion, store.Current.Base, store.Current.Previous };
                Assert.All(Directory.EnumerateDirectories(Path.Combine(dir, CheckpointStore.VersionsDirectoryName)), d => Assert.Contains(Path.GetFileName(d), named));
                known = version;
                versionsSeen.Add(version);
            }
            output.WriteLine($"{Kills} kills, {committedTotal} committed changes, {versionsSeen.Count} distinct champions verified, {midWrite} kills landed after an attempt was durable but before it was reported.");
            Assert.True(versionsSeen.Count > 5, $"Only {versionsSeen.Count} distinct champions: the child made too little progress for the test to mean anything.");
            Assert.NotEmpty(new CheckpointStore(dir).ReadDecisions());
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static List<string> RunAndKill(string childDll, string dir, TimeSpan delay)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(childDll);
        psi.ArgumentList.Add(dir);
        var lines = new List<string>();
        using var firstLine = new ManualResetEventSlim();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (lines) lines.Add(e.Data);
            firstLine.Set();
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add("stderr " + e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // The kill delay counts from the child's first line, not from its start: under a loaded test run the runtime's
        // start-up alone took longer than the delay, every kill landed before any write, and the test saw no progress.
        firstLine.Wait(TimeSpan.FromSeconds(60));
        Thread.Sleep(delay);
        process.Kill(); // SIGKILL on Unix: no finally blocks, no flushes
        process.WaitForExit();
        lock (lines)
        {
            var errors = lines.Where(l => l.StartsWith("stderr ", StringComparison.Ordinal)).ToList();
            Assert.True(errors.Count == 0, "Child failed: " + string.Join('\n', errors));
            return [.. lines];
        }
    }

    private static string ChildPath()
    {
        // The child is built next to this assembly's project: tests/ContinualLearning.CrashChild/bin/<Configuration>/<tfm>[/<rid>]/.
        // Walk up to tests/ and mirror the part of our own output path below bin/.
        var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var marker = $"{Path.DirectorySeparatorChar}ContinualLearning.UnitTests{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}";
        var at = here.LastIndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, $"Unexpected test output folder '{here}': expected it under tests/ContinualLearning.UnitTests/bin/.");
        var below = here[(at + marker.Length)..];
        var path = Path.Combine(here[..at], "ContinualLearning.CrashChild", "bin", below, "ContinualLearning.CrashChild.dll");
        Assert.True(File.Exists(path), $"Crash child not built at '{path}'; build tests/ContinualLearning.CrashChild (the UnitTests project references it).");
        return path;
    }
}
