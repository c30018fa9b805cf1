using ContinualLearning.Tensors;
using ContinualLearning.Torch;
using ContinualLearning.Training;
using TorchSharp;

namespace ContinualLearning.UnitTests.Torch;

/// <summary>Runs alone: process RSS is only meaningful when no other test allocates meanwhile.</summary>
[CollectionDefinition(nameof(TorchMemoryCollection), DisableParallelization = true)]
public sealed class TorchMemoryCollection;

[Collection(nameof(TorchMemoryCollection))]
public sealed class TorchMemoryTests
{
    /// <summary>
    /// Allowed RSS growth over 10,000 steps. A leak of just the per-step input tensor (32×16 floats = 2 KB)
    /// would already add ~20 MB; leaking the autograd graph would be far more.
    /// </summary>
    private const long MaxGrowthBytes = 20L * 1024 * 1024;

    private readonly ITestOutputHelper _output;

    public TorchMemoryTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Ten_thousand_train_steps_keep_native_memory_flat()
    {
        Assert.SkipUnless(File.Exists("/proc/self/status"), "RSS is read from /proc/self/status (Linux only).");
        const int batch = 32;
        var spec = new HeadSpec([16, 64, 4], LossKind.SoftmaxCrossEntropy);
        var random = new Random(1);
        var x = Enumerable.Range(0, batch * 16).Select(_ => (float)random.NextDouble()).ToArray();
        var y = Enumerable.Range(0, batch).Select(i => (float)(i % 4)).ToArray();
        var predictions = new float[batch * 4];
        using var model = new TorchEngine().Create(spec, new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 1e-3f }, seed: 2);
        var weights = model.GetWeights();
        model.SetPenalty(new EwcPenalty(weights, weights.Select(t => new NamedTensor(t.Name, t.Shape, Enumerable.Repeat(0.1f, t.Count).ToArray())).ToArray(), 1f));

        void Run(int steps)
        {
            for (var s = 0; s < steps; s++)
            {
                model.TrainStep(x, y, batch);
                if (s % 10 == 0) model.Predict(x, batch, predictions);
                if (s % 2000 == 0) model.FisherDiagonal(x, y, batch);
            }
        }

        // Warm-up: allocator pools, JIT tiers, GC budgets and optimiser state settle within ~3,000 steps.
        Run(3_000);
        var liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var rssBefore = SettledRss();
        Run(10_000);
        var rssAfter = SettledRss();
        var liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        var growth = rssAfter - rssBefore;
        _output.WriteLine($"VmRSS after warm-up {rssBefore / 1024} KB, after 10,000 steps {rssAfter / 1024} KB, growth {growth / 1024} KB (bound {MaxGrowthBytes / 1024} KB); live TorchSharp objects {liveBefore} -> {liveAfter}");
        Assert.Equal(13_000, model.Steps);
        Assert.True(growth < MaxGrowthBytes, $"RSS grew by {growth / 1024} KB over 10,000 steps (bound {MaxGrowthBytes / 1024} KB).");
        Assert.Equal(liveBefore, liveAfter);
    }

    private static long SettledRss()
    {
        // Tensor wrappers are disposed by the scopes; collecting first keeps managed garbage out of the figure.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException("/proc/self/status has no VmRSS line.");
    }
}
