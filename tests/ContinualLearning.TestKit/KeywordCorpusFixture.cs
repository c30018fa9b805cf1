using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using ContinualLearning.Experiments.Keywords;

namespace ContinualLearning.TestKit;

/// <summary>
/// espeak-ng keyword corpora for tests, generated once per spec into a cache folder shared by test runs
/// (<c>$CL_TEST_CACHE</c>, else the temp folder) and reused while its <c>corpus.json</c> matches. A test calls
/// <see cref="Get"/> first: without espeak-ng it is skipped with the reason, or fails under <c>CL_REQUIRE_SPEECH=1</c>.
/// </summary>
public static class KeywordCorpusFixture
{
    private static readonly ConcurrentDictionary<string, Lazy<KeywordCorpus>> s_corpora = new();
    private static readonly Lazy<bool> s_available = new(Probe);

    /// <summary>espeak-ng, for the tests that speak keywords.</summary>
    public static TestDependency Espeak { get; } = new("espeak-ng", "CL_REQUIRE_SPEECH", "sudo apt-get install espeak-ng");

    /// <summary>Whether espeak-ng runs here.</summary>
    public static bool EspeakAvailable => s_available.Value;

    /// <summary>The corpus of <paramref name="spec"/> (default: <see cref="KeywordCorpusSpec.Small"/>), generated on first use.</summary>
    public static KeywordCorpus Get(KeywordCorpusSpec? spec = null)
    {
        Espeak.Require(EspeakAvailable);
        spec ??= KeywordCorpusSpec.Small;
        var key = Hash(spec);
        return s_corpora.GetOrAdd(key, k => new Lazy<KeywordCorpus>(() => Generate(k, spec))).Value;
    }

    private static KeywordCorpus Generate(string key, KeywordCorpusSpec spec)
    {
        var root = Environment.GetEnvironmentVariable("CL_TEST_CACHE") is { Length: > 0 } cache ? cache : Path.Combine(Path.GetTempPath(), "cl-test-cache");
        var dir = Path.Combine(root, "keywords-" + key);
        Directory.CreateDirectory(dir);
        // Test processes of both test projects may ask at once: the lock file serialises generation between them.
        using var gate = Lock(dir + ".lock");
        return KeywordCorpusGenerator.Generate(dir, spec, parallelism: 2).Corpus;
    }

    private static FileStream Lock(string path)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (deadline.Elapsed < TimeSpan.FromMinutes(5))
            {
                Thread.Sleep(100);
            }
        }
    }

    private static string Hash(KeywordCorpusSpec spec) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(KeywordCorpusGenerator.SpecJson(spec, "-"))))[..16];

    private static bool Probe()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("espeak-ng") { ArgumentList = { "--version" }, RedirectStandardOutput = true, RedirectStandardError = true });
            if (p is null) return false;
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
