using ContinualLearning.Bundle;
using ContinualLearning.Onnx;
using ContinualLearning.UnitTests.Bundle;
using ContinualLearning.UnitTests.Onnx;

namespace ContinualLearning.UnitTests.Pipelines;

[Collection(ResidentMemoryCollection.Name)]
public sealed class AudioPipelineMemoryTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Embedding_clips_does_not_grow_memory_outside_the_gc_heap()
    {
        var models = SpeechTestSupport.RequireModels();
        SpeechBundleBuilder.Save(_tmp.Sub("kws"), new SpeechBundleOptions { Name = "kws", LabelNames = ["a", "b"], SpeechModelDirectory = models });
        using var pipeline = InputPipelineFactory.Create(ModelBundle.Load(_tmp.Sub("kws")));
        // 2 s: 2 ORT runs (mel, then 13 windows) and 4 OrtValues per clip; the input pins 128 KB each time.
        var clip = SpeechTestSupport.Clip(32_000);
        var embedding = new float[pipeline.OutputSize];
        for (var i = 0; i < 600; i++) pipeline.Embed(clip, embedding);

        const int calls = 200;
        long Round()
        {
            var start = OnnxBackboneMemoryTests.Settled();
            for (var i = 0; i < calls; i++) pipeline.Embed(clip, embedding);
            return OnnxBackboneMemoryTests.Settled().Native - start.Native;
        }
        var rounds = new[] { Round(), Round(), Round() };

        // A leaked input OrtValue or output tensor would hold ≥ 128 KB per call: 25+ MB in every round. The bound is half
        // of that, and the least growth of three rounds is compared with it: the process is shared with other test
        // classes, whose native work (ONNX Runtime, SQLite) can land inside one round, never in every round at once.
        const long nativeBound = 12L * 1024 * 1024;
        output.WriteLine($"memory outside the GC heap, growth per round of {calls} clips: {string.Join(" / ", rounds.Select(r => r / 1024))} KiB; bound {nativeBound / 1024} KiB");
        Assert.True(rounds.Min() < nativeBound, $"Native memory grew at least {rounds.Min() / 1024} KiB in each of three rounds of {calls} clips: something leaks.");
        Assert.All(embedding, v => Assert.True(float.IsFinite(v)));
    }
}
