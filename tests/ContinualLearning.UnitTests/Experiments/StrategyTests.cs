using ContinualLearning.Evaluation;
using ContinualLearning.Experiments;
using ContinualLearning.Streams;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Experiments;

public sealed class StrategyTests(ITestOutputHelper output)
{
    private static readonly ManagedEngine Engine = new();

    private static readonly StrategyOptions Small = new()
    {
        UpdateEvery = 100,
        WarmUp = 500,
        Window = 500,
        Epochs = 5,
        ReplayCapacity = 300,
        Seed = 3,
    };

    public static TheoryData<StrategyKind> Kinds => [.. Enum.GetValues<StrategyKind>()];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_strategy_learns_a_separable_stream(StrategyKind kind)
    {
        // Noise-free SEA concept 1: linearly separable, majority class ≈ 68%.
        var stream = new SeaGenerator(1, noise: 0, seed: 5).Limit(3000).ToList();
        using var model = StrategyFactory.Create(kind, Engine, 3, 2, Small);
        var result = PrequentialEvaluator.Run(stream, model);
        var majority = PrequentialEvaluator.Run(stream, new MajorityClass());
        output.WriteLine($"{kind}: {result.Accuracy:P2} (majority {majority.Accuracy:P2})");
        Assert.True(result.Accuracy > majority.Accuracy + 0.15, $"{kind} scored {result.Accuracy:P2}, majority class {majority.Accuracy:P2}.");
    }

    [Fact]
    public void Stateless_counts_window_times_epochs_per_retrain()
    {
        var options = Small with { UpdateEvery = 100, Window = 200, Epochs = 3 };
        using var model = new StatelessRetrainStrategy(Engine, 3, 2, options);
        Feed(model, 700);
        // Retrains after 100, 200, …, 700 samples on min(seen, W) samples, E epochs each.
        Assert.Equal(7, model.Updates);
        Assert.Equal((100 + 6 * 200) * 3, model.SampleGradients);
    }

    [Fact]
    public void Stateful_counts_each_new_sample_once_per_pass()
    {
        using var model = new StatefulFineTuneStrategy(Engine, 3, 2, Small with { UpdateEvery = 50, FineTuneEpochs = 2 });
        Feed(model, 520); // the last 20 wait for the next update
        Assert.Equal(10, model.Updates);
        Assert.Equal(10 * 50 * 2, model.SampleGradients);
    }

    [Fact]
    public void Replay_and_ewc_count_replayed_rows_and_fisher_samples()
    {
        var options = Small with { UpdateEvery = 64, BatchSize = 32, ReplayRatio = 0.5, ReplayCapacity = 1000, FisherSamples = 100 };
        using var replay = new ReplayStrategy(Engine, 3, 2, options);
        using var ewc = new EwcStrategy(Engine, 3, 2, options);
        Feed(replay, 192);
        Feed(ewc, 192);
        // Update 1: empty buffer → 64 fresh rows. Updates 2, 3: 4 batches of 16 fresh + 16 replayed = 128 rows.
        Assert.Equal(64 + 128 + 128, replay.SampleGradients);
        // EWC adds the Fisher samples: min(100, buffer) = 64 before update 2, 100 before update 3.
        Assert.Equal(64 + 128 + 128 + 64 + 100, ewc.SampleGradients);
    }

    [Fact]
    public void No_update_trains_once_on_the_warm_up_then_freezes()
    {
        using var model = new NoUpdateStrategy(Engine, 3, 2, Small with { WarmUp = 200, Epochs = 4 });
        var probe = new SeaGenerator(1, noise: 0, seed: 11).Limit(200).ToList();
        Feed(model, 200);
        var before = probe.Select(s => model.Predict(s.Features)).ToArray();
        // Learn from inverted labels: a model that still learned would change its predictions.
        foreach (var s in new SeaGenerator(1, noise: 0, seed: 12).Limit(2000)) model.Learn(s.Features, 1 - s.Label);
        Assert.Equal(before, probe.Select(s => model.Predict(s.Features)).ToArray());
        Assert.Equal(200 * 4, model.SampleGradients);
        Assert.Equal(1, model.Updates);
    }

    [Fact]
    public void Replay_forgets_less_than_fine_tuning_on_a_shifted_stream()
    {
        // Short seeded sea-shift streams (A, B, A, B); held-out A is scored before the first drift and at the end.
        // One end-of-stream snapshot is noisy, so the retention is averaged over four fixed seeds.
        double ftSum = 0, rpSum = 0;
        var seeds = new[] { 1, 2, 3, 4 };
        foreach (var seed in seeds)
        {
            var stream = ExperimentStreams.SeaShift(DriftKind.Abrupt, 8000, seed);
            var options = new StrategyOptions { Training = new TrainingOptions { LearningRate = 0.03f }, Seed = seed };
            using var fineTune = new StatefulFineTuneStrategy(Engine, 3, 2, options);
            using var replay = new ReplayStrategy(Engine, 3, 2, options);
            var result = ExperimentRunner.Run(stream, [new("stateful", fineTune), new("replay", replay)]);
            var ft = result.Models[0];
            var rp = result.Models[1];
            output.WriteLine($"seed {seed}: fine-tune kept {ft.Retention:P1} ({ft.HeldOutBefore:P1} → {ft.HeldOutAfter:P1}); replay kept {rp.Retention:P1} ({rp.HeldOutBefore:P1} → {rp.HeldOutAfter:P1})");
            ftSum += ft.Retention!.Value;
            rpSum += rp.Retention!.Value;
        }
        var ftMean = ftSum / seeds.Length;
        var rpMean = rpSum / seeds.Length;
        // Measured: fine-tuning ≈ 92.6%, replay ≈ 98.9%; the margin asserted is half the measured gap.
        Assert.True(rpMean > ftMean + Margin, $"replay kept {rpMean:P1} on average, fine-tuning {ftMean:P1}; expected a margin of {Margin:P0}.");
        Assert.True(rpMean >= 0.95, $"replay kept {rpMean:P1} of its accuracy on concept A on average.");
    }

    private const double Margin = 0.03;

    private static void Feed(IOnlineClassifier model, int count)
    {
        foreach (var s in new SeaGenerator(1, noise: 0.1, seed: 9).Limit(count)) model.Learn(s.Features, s.Label);
    }
}
