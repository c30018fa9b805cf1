using ContinualLearning.Learning;
using ContinualLearning.Streams;

namespace ContinualLearning.UnitTests.Learning;

/// <summary><see cref="ContinualLearner.Counters"/>: the events a host exports, each counted once.</summary>
public sealed class LearnerCounterTests : IDisposable
{
    private readonly LearnerFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Served_predictions_and_labelled_arrivals_are_both_predictions_and_every_label_counts_once()
    {
        await using var learner = await _f.OpenAsync(_f.Options());
        var samples = new SeaGenerator(1, noise: 0.0, seed: 21).Limit(50).ToArray();
        var served = samples[..30].Select(s => learner.Predict(s.Features)).ToArray();
        for (var i = 0; i < 20; i++) learner.Label(served[i].SampleId, samples[i].Label);
        foreach (var s in samples[30..]) learner.AddLabelled(s.Features, s.Label);
        // A rejected label (the sample already has one) is no event.
        Assert.ThrowsAny<ContinualLearning.Storage.SampleRejectedException>(() => learner.Label(served[0].SampleId, 1 - samples[0].Label));

        var counters = learner.Counters;
        Assert.Equal(30 + 20, counters.Predictions);
        Assert.Equal(20 + 20, counters.Labels);
        Assert.Equal(30, learner.Status.Predictions); // the status keeps counting served predictions only
        Assert.Equal(counters.Labels, learner.Status.Labelled);
        Assert.Equal(new LearnerCounters(50, 40, 0, TimeSpan.Zero, 0, 0), counters);
    }

    [Fact]
    public async Task Only_completed_runs_count_with_their_time_and_promotions_match_the_event()
    {
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 300, AccuracyMargin = -1 }; // always promote
        await using var learner = await _f.OpenAsync(_f.Options(challenger));
        var promoted = 0;
        learner.Promoted += (_, _) => promoted++;

        Assert.Null(await learner.TrainNowAsync("manual: too few samples"));
        Assert.Equal(0, learner.Counters.TrainingRuns);
        Assert.Equal(TimeSpan.Zero, learner.Counters.TrainingTime);

        foreach (var s in new SeaGenerator(4, noise: 0.0, seed: 22).Limit(300)) learner.AddLabelled(s.Features, s.Label);
        Assert.NotNull(await learner.TrainNowAsync("manual: promote"));

        var counters = learner.Counters;
        Assert.Equal(1, counters.TrainingRuns);
        Assert.True(counters.TrainingTime > TimeSpan.Zero, $"training time {counters.TrainingTime}");
        Assert.Equal(1, promoted);
        Assert.Equal(promoted, counters.Promotions);
        Assert.Equal(learner.Status.Promotions, counters.Promotions);
    }

    [Fact]
    public async Task A_cancelled_run_is_not_counted()
    {
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 2000, Epochs = 50_000 };
        await using var learner = await _f.OpenAsync(_f.Options(challenger));
        foreach (var s in new SeaGenerator(4, seed: 23).Limit(2000)) learner.AddLabelled(s.Features, s.Label);
        using var cts = new CancellationTokenSource();
        var run = learner.TrainNowAsync("manual: to cancel", cts.Token);
        cts.CancelAfter(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(0, learner.Counters.TrainingRuns);
        Assert.Equal(TimeSpan.Zero, learner.Counters.TrainingTime);
    }

    [Fact]
    public async Task Drift_alarms_match_the_raised_events()
    {
        var options = _f.Options() with { DriftDetectorFactory = () => new EveryNthDetector(7) };
        await using var learner = await _f.OpenAsync(options);
        var raised = 0;
        learner.DriftDetected += (_, _) => raised++;
        foreach (var s in new SeaGenerator(1, seed: 24).Limit(50)) learner.AddLabelled(s.Features, s.Label);
        Assert.Equal(7, raised); // 50 labels, an alarm at every 7th
        Assert.Equal(raised, learner.Counters.DriftAlarms);
        Assert.Equal(raised, learner.Status.DriftAlarms);
    }
}
