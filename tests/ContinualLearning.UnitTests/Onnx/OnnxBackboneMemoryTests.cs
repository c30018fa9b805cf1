using System.Runtime.InteropServices;
using ContinualLearning.Onnx;
using Xunit.Abstractions;
using static ContinualLearning.UnitTests.Onnx.OnnxTestSupport;

namespace ContinualLearning.UnitTests.Onnx;

/// <summary>Process-wide RSS is only meaningful when no other test allocates at the same time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResidentMemoryCollection
{
    public const string Name = "Resident memory (runs alone)";
}

[Collection(ResidentMemoryCollection.Name)]
public class OnnxBackboneMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void Ten_thousand_calls_do_not_grow_resident_memory()
    {
        using var dir = new TempDirectory();
        // Chunk 1 with batch 4 → 4 ORT runs and 8 OrtValues (each pinning a buffer) per Embed: 80,000 over the
        // measured calls, so a per-value leak stands well above allocator noise.
        using var backbone = new OnnxBackbone(OnnxBackboneTests.WriteBackbone(dir, out _), new OnnxBackboneOptions { MaxChunkSize = 1 });
        const int batch = 4;
        var x = RandomInputs(batch * 8, seed: 4);
        var embeddings = new float[batch * 16];

        // Warm-up until RSS settles: tiered JIT, ORT's arena and glibc's malloc pools grow during the first
        // ~10,000–20,000 calls (measured: ~12 MB, then flat over 200,000 further calls).
        for (var i = 0; i < 20_000; i++) backbone.Embed(x, batch, embeddings);
        var before = Settled();
        const int calls = 10_000;
        for (var i = 0; i < calls; i++) backbone.Embed(x, batch, embeddings);
        var after = Settled();

        // RSS includes the GC heap, whose committed size moves by a few MB with the collector's own decisions
        // (measured here: 2–4 MB of RSS growth when nothing leaks). Memory outside the GC heap (ORT, pinned-handle
        // tables, malloc) is the part a forgotten native release would grow; it moved < 0.5 MB in those runs.
        const long rssBound = 8L * 1024 * 1024;
        const long nativeBound = 2L * 1024 * 1024;
        var rssGrowth = after.Rss - before.Rss;
        var nativeGrowth = after.Native - before.Native;
        output.WriteLine($"{calls} calls = {calls * batch} ORT runs, {calls * batch * 2} OrtValues");
        output.WriteLine($"RSS    before {before.Rss / 1024} KiB, after {after.Rss / 1024} KiB, growth {rssGrowth / 1024} KiB ({(double)rssGrowth / calls:0.0} B/call); bound {rssBound / 1024} KiB");
        output.WriteLine($"RSS outside the GC heap: before {before.Native / 1024} KiB, after {after.Native / 1024} KiB, growth {nativeGrowth / 1024} KiB; bound {nativeBound / 1024} KiB");
        Assert.True(rssGrowth < rssBound, $"RSS grew {rssGrowth / 1024} KiB over {calls} calls (bound {rssBound / 1024} KiB): something leaks.");
        Assert.True(nativeGrowth < nativeBound, $"Memory outside the GC heap grew {nativeGrowth / 1024} KiB over {calls} calls (bound {nativeBound / 1024} KiB): native memory leaks.");
        Assert.All(embeddings, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>RSS after a full GC (so collectable garbage does not count), and RSS minus the GC heap's committed bytes.</summary>
    private static (long Rss, long Native) Settled()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var rss = Rss();
        return (rss, rss - GC.GetGCMemoryInfo().TotalCommittedBytes);
    }

    private static long Rss()
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        }
        return Environment.WorkingSet;
    }
}
