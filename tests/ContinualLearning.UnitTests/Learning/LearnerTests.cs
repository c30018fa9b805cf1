using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Streams;
using ContinualLearning.Training;
using ContinualLearning.Triggers;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>A base release trained on SEA concept 1, a model store in /tmp and a sample store on /dev/shm.</summary>
internal sealed class LearnerFixture : IDisposable
{
    public static readonly HeadSpec Spec = new([3, 16, 2], LossKind.SoftmaxCrossEntropy);

    public LearnerFixture()
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Shm);
        var manifest = new ModelManifest
        {
            Name = "sea",
            Version = "1.0.0",
            CreatedUtc = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            InputSchema = new InputSchema([new FeatureSpec("f1", 5, 2.9f), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f)]),
            Task = TaskSpec.Classification("0", "1"),
            Head = Spec,
            Training = new TrainingDefaults { Options = new TrainingOptions { LearningRate = 0.01f } },
        };
        // Base weights: a few epochs on concept 1, so the release is good before the drift.
        var pipeline = new ContinualLearning.Features.FeaturePipeline(manifest.InputSchema);
        var data = new SeaGenerator(1, noise: 0.0, seed: 99).Limit(3000).ToArray();
        using var head = Engine.Create(Spec, manifest.Training.Options, seed: 3);
        var x = new float[32 * 3];
        var y = new float[32];
        for (var epoch = 0; epoch < 8; epoch++)
            for (var i = 0; i + 32 <= data.Length; i += 32)
            {
                for (var r = 0; r < 32; r++)
                {
                    pipeline.Normalize(data[i + r].Features, x.AsSpan(r * 3, 3));
                    y[r] = data[i + r].Label;
                }
                head.TrainStep(x, y, 32);
            }
        ModelBundle.Save(BasePath, manifest, head.GetWeights());
    }

    public ManagedEngine Engine { get; } = new();

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cl-learner-tests", Guid.NewGuid().ToString("N"));

    public string Shm { get; } = Path.Combine("/dev/shm", $"cl-learner-{Guid.NewGuid():N}");

    public string BasePath => Path.Combine(Root, "base-1.0.0");

    public string ModelStore => Path.Combine(Root, "models");

    public LearnerOptions Options(ChallengerOptions? challenger = null, ITrigger? trigger = null) => new()
    {
        ModelStoreDirectory = ModelStore,
        BaseBundlePath = BasePath,
        StorePath = Path.Combine(Shm, "samples.db"),
        Challenger = challenger ?? new ChallengerOptions { MinSamples = 100, MaxSamples = 1000, Epochs = 3 },
        Trigger = trigger,
        AccuracyWindow = 300,
    };

    public Task<ContinualLearner> OpenAsync(LearnerOptions options) => ContinualLearner.OpenAsync(options, Engine);

    public void Dispose()
    {
        foreach (var d in new[] { Root, Shm })
            try { Directory.Delete(d, recursive: true); } catch (IOException) { }
    }
}

public sealed class LearnerTests(ITestOutputHelper output) : IDisposable
{
    private readonly LearnerFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Recovers_after_abrupt_drift_and_beats_the_no_update_baseline()
    {
        var trigger = Trigger.AnyOf(Trigger.OnDrift(200), Trigger.OnAccuracyDrop(0.05, 200), Trigger.AfterSamples(1000));
        await using var learner = await _f.OpenAsync(_f.Options(trigger: trigger));
        var baseline = ModelBundle.Load(_f.BasePath);
        using var baseModel = _f.Engine.Create(baseline.Head, baseline.TrainingOptions, baseline.HeadWeights);
        const int driftAt = 1000, total = 5000, tail = 1000;
        var stream = ConceptDriftStream.Abrupt(new SeaGenerator(1, noise: 0.0, seed: 5), new SeaGenerator(4, noise: 0.0, seed: 6), driftAt).Limit(total).ToArray();
        int learnerTail = 0, baselineTail = 0, baselineAfterDrift = 0, learnerAfterDrift = 0;
        var runs = new List<TrainingRunResult>();
        var drifts = 0;
        learner.DriftDetected += (_, _) => drifts++;
        var input = new float[3];
        var outBuf = new float[2];
        for (var i = 0; i < stream.Length; i++)
        {
            var s = stream[i];
            var p = learner.Predict(s.Features);
            learner.Label(p.SampleId, s.Label);
            baseline.Features.Normalize(s.Features, input);
            baseModel.Predict(input, 1, outBuf);
            var baseCorrect = (outBuf[1] > outBuf[0] ? 1 : 0) == s.Label;
            if (i >= driftAt) { learnerAfterDrift += p.LabelIndex == s.Label ? 1 : 0; baselineAfterDrift += baseCorrect ? 1 : 0; }
            if (i >= total - tail) { learnerTail += p.LabelIndex == s.Label ? 1 : 0; baselineTail += baseCorrect ? 1 : 0; }
            if (i % 50 == 49 && await learner.MaybeTrainAsync() is { } run) runs.Add(run);
        }
        var status = learner.Status;
        foreach (var r in runs)
            output.WriteLine($"run: {r.Decision.TriggerReason} | champion {r.Decision.ChampionMetric:0.000} challenger {r.Decision.ChallengerMetric:0.000} | train {r.Decision.TrainSamples} holdout {r.Decision.HoldoutSamples} replay rows {r.Decision.ReplayedRows} steps {r.Decision.Steps} | {(r.Promoted ? "promoted " + r.Decision.NewVersion : "discarded")}");
        output.WriteLine($"accuracy over the last {tail}: learner {learnerTail / (double)tail:0.000}, no-update baseline {baselineTail / (double)tail:0.000}; after drift: learner {learnerAfterDrift / (double)(total - driftAt):0.000}, baseline {baselineAfterDrift / (double)(total - driftAt):0.000}; drift alarms {drifts}, status {status.ModelVersion}");

        Assert.Contains(runs, r => r.Decision.TriggerReason.StartsWith("drift", StringComparison.Ordinal) || r.Decision.TriggerReason.StartsWith("performance", StringComparison.Ordinal));
        Assert.Contains(runs, r => r.Promoted);
        Assert.StartsWith("1.0.0-local.", learner.ModelVersion, StringComparison.Ordinal);
        Assert.True(learnerTail / (double)tail >= 0.93, $"Learner accuracy over the last {tail} is {learnerTail / (double)tail:0.000}; expected recovery to >= 0.93.");
        Assert.True(learnerTail > baselineTail + 0.04 * tail, $"Learner {learnerTail} vs baseline {baselineTail} correct of {tail}: no clear gain over not updating.");
        Assert.Equal(runs.Count, learner.Checkpoints.ReadDecisions().Count);
    }

    [Fact]
    public async Task Run_that_does_not_beat_the_champion_is_discarded_and_samples_are_used_once()
    {
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 300, AccuracyMargin = 0.5 }; // unreachable margin
        await using var learner = await _f.OpenAsync(_f.Options(challenger));
        var promoted = 0;
        learner.Promoted += (_, _) => promoted++;
        foreach (var s in new SeaGenerator(1, noise: 0.0, seed: 7).Limit(450)) learner.AddLabelled(s.Features, s.Label);

        var first = await learner.TrainNowAsync("manual: test");
        Assert.NotNull(first);
        Assert.False(first.Promoted);
        Assert.Equal(300, first.UsedSampleIds.Count);
        Assert.Equal(60, first.Decision.HoldoutSamples);
        Assert.Equal("1.0.0", learner.ModelVersion);
        Assert.Equal(0, promoted);
        Assert.Equal(150, learner.Status.FreshSamples);

        var second = await learner.TrainNowAsync("manual: test");
        Assert.NotNull(second);
        Assert.Equal(150, second.UsedSampleIds.Count);
        Assert.Empty(first.UsedSampleIds.Intersect(second.UsedSampleIds));
        Assert.Null(await learner.TrainNowAsync("manual: nothing left"));
        Assert.Equal(0, learner.Status.StoredSamples);
        Assert.True(learner.Status.ReplaySize > 0);
        var log = learner.Checkpoints.ReadDecisions();
        Assert.Equal(2, log.Count);
        Assert.All(log, d => Assert.False(d.Promoted));
    }

    [Fact]
    public async Task Rollback_restores_previous_predictions_and_reopen_resumes_the_champion()
    {
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 500, AccuracyMargin = -1 }; // always promote
        var probe = new float[] { 4.5f, 3.5f, 1f };
        string promotedVersion;
        float[] promotedProbs, baseProbs;
        await using (var learner = await _f.OpenAsync(_f.Options(challenger)))
        {
            baseProbs = learner.Predict(probe).Probabilities;
            PromotedEventArgs? evt = null;
            learner.Promoted += (_, e) => evt = e;
            foreach (var s in new SeaGenerator(4, noise: 0.0, seed: 8).Limit(500)) learner.AddLabelled(s.Features, s.Label);
            var run = await learner.TrainNowAsync("manual: promote");
            Assert.True(run!.Promoted);
            Assert.NotNull(evt);
            Assert.Equal("1.0.0", evt.BaseVersion);
            Assert.Equal(learner.ModelVersion, evt.NewVersion);
            Assert.Equal("1.0.0-local.1", learner.ModelVersion);
            promotedProbs = learner.Predict(probe).Probabilities;
            Assert.NotEqual(baseProbs, promotedProbs);

            Assert.True(learner.Rollback());
            Assert.Equal("1.0.0", learner.ModelVersion);
            Assert.Equal(baseProbs, learner.Predict(probe).Probabilities);
            Assert.False(learner.Rollback()); // the rolled-back version is forgotten

            foreach (var s in new SeaGenerator(4, noise: 0.0, seed: 9).Limit(500)) learner.AddLabelled(s.Features, s.Label);
            Assert.True((await learner.TrainNowAsync("manual: promote again"))!.Promoted);
            promotedVersion = learner.ModelVersion;
            promotedProbs = learner.Predict(probe).Probabilities;
        }

        Assert.Equal("1.0.0-local.2", promotedVersion);
        await using var reopened = await _f.OpenAsync(_f.Options(challenger));
        Assert.Equal(promotedVersion, reopened.ModelVersion);
        Assert.Equal(promotedProbs, reopened.Predict(probe).Probabilities);
        Assert.Equal("1.0.0", reopened.Status.BaseVersion);
    }

    [Fact]
    public async Task Wipe_empties_store_and_replay()
    {
        await using var learner = await _f.OpenAsync(_f.Options(new ChallengerOptions { MinSamples = 100, MaxSamples = 200 }));
        foreach (var s in new SeaGenerator(1, seed: 10).Limit(300)) learner.AddLabelled(s.Features, s.Label);
        Assert.NotNull(await learner.TrainNowAsync("manual: fill replay"));
        learner.Predict([1f, 2f, 3f]);
        Assert.True(learner.Status.ReplaySize > 0);
        Assert.True(learner.Status.StoredSamples > 0);
        learner.WipeData();
        Assert.Equal(0, learner.Status.ReplaySize);
        Assert.Equal(0, learner.Status.StoredSamples);
    }

    [Fact]
    public async Task Cancelled_run_releases_samples_and_keeps_the_champion()
    {
        // Far more work than 50 ms can finish on any machine, so the cancellation always lands mid-run.
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 2000, Epochs = 50_000, AccuracyMargin = -1 };
        await using var learner = await _f.OpenAsync(_f.Options(challenger));
        foreach (var s in new SeaGenerator(4, seed: 11).Limit(2000)) learner.AddLabelled(s.Features, s.Label);
        using var cts = new CancellationTokenSource();
        var run = learner.TrainNowAsync("manual: to cancel", cts.Token);
        cts.CancelAfter(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal("1.0.0", learner.ModelVersion);
        Assert.Equal(2000, learner.Status.FreshSamples);
        Assert.Empty(learner.Checkpoints.ReadDecisions());
    }

    [Fact]
    public async Task Stateless_mode_retrains_from_scratch_and_is_recorded()
    {
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 600, Epochs = 5, Mode = LearningMode.Stateless };
        await using var learner = await _f.OpenAsync(_f.Options(challenger));
        foreach (var s in new SeaGenerator(4, noise: 0.0, seed: 12).Limit(600)) learner.AddLabelled(s.Features, s.Label);
        var run = await learner.TrainNowAsync("manual: stateless");
        Assert.NotNull(run);
        Assert.Equal("stateless", run.Decision.Mode);
        Assert.Equal(5 * (int)Math.Ceiling(480 / 32.0), run.Decision.Steps);
        output.WriteLine($"stateless: champion {run.Decision.ChampionMetric:0.000}, challenger {run.Decision.ChallengerMetric:0.000}, promoted {run.Promoted}");
    }
}
