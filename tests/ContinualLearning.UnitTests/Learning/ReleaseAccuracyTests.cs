using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Streams;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>
/// The release accuracy window (what telemetry reports for the aggregator's canary) spans local promotions and
/// restarts only when a new global release is installed; the champion window restarts with every champion.
/// </summary>
public sealed class ReleaseAccuracyTests : IDisposable
{
    private readonly LearnerFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public async Task Release_window_survives_a_local_promotion_and_restarts_on_a_new_release()
    {
        var challenger = new ChallengerOptions { MinSamples = 100, MaxSamples = 500, AccuracyMargin = -1 }; // always promote
        await using var learner = await _f.OpenAsync(_f.Options(challenger));
        Serve(learner, seed: 5, count: 200);
        Assert.Equal(200, learner.Status.WindowedSamples);
        Assert.Equal(200, learner.Status.ReleaseWindowedSamples);
        var before = learner.Status.ReleaseWindowedAccuracy;
        Assert.NotNull(before);

        Assert.True((await learner.TrainNowAsync("test: promote"))!.Promoted);
        Assert.Equal("1.0.0-local.1", learner.ModelVersion);
        Assert.Equal(0, learner.Status.WindowedSamples);
        Assert.Equal(200, learner.Status.ReleaseWindowedSamples);
        Assert.Equal(before, learner.Status.ReleaseWindowedAccuracy);

        Serve(learner, seed: 6, count: 50);
        Assert.Equal(50, learner.Status.WindowedSamples);
        Assert.Equal(250, learner.Status.ReleaseWindowedSamples);

        var release = ModelBundle.Load(_f.BasePath);
        var next = Path.Combine(_f.Root, "release-1.1.0");
        ModelBundle.Save(next, release.Manifest with { Version = "1.1.0" }, release.HeadWeights);
        await learner.RebaseAsync(ModelBundle.Load(next));
        Assert.Equal("1.1.0", learner.Status.BaseVersion);
        Assert.Equal(0, learner.Status.ReleaseWindowedSamples);
        Assert.Null(learner.Status.ReleaseWindowedAccuracy);

        Serve(learner, seed: 7, count: 30);
        Assert.Equal(30, learner.Status.ReleaseWindowedSamples);
    }

    /// <summary>Serve then label ("log and wait"), as a device does.</summary>
    private static void Serve(ContinualLearner learner, int seed, int count)
    {
        foreach (var s in new SeaGenerator(4, noise: 0.0, seed: seed).Limit(count))
            learner.Label(learner.Predict(s.Features).SampleId, s.Label);
    }
}
