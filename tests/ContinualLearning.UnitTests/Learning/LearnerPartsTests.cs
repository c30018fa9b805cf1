using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Training;
using ContinualLearning.Triggers;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>The learner's parts on their own: sample-store representation, the monitor's bookkeeping, serving.</summary>
public sealed class LearnerPartsTests : IDisposable
{
    private static readonly StoreStats NoSamples = new(0, 0, 0, 0, 0, 0, 0);
    private readonly LearnerFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void Representation_changes_with_the_schema_statistics_the_head_input_or_the_backbone_only()
    {
        var old = ModelBundle.Load(_f.BasePath).Manifest;
        Assert.False(LearnerSampleStore.RepresentationChanged(old, old with { Version = "2.0.0", Head = new HeadSpec([3, 16, 2], LossKind.SoftmaxCrossEntropy) }));
        var shifted = new InputSchema([new FeatureSpec("f1", 6, 2.9f), new FeatureSpec("f2", 5, 2.9f), new FeatureSpec("f3", 5, 2.9f)]);
        Assert.True(LearnerSampleStore.RepresentationChanged(old, old with { InputSchema = shifted }));
        var withBackbone = new SortedDictionary<string, string>(StringComparer.Ordinal) { [ModelManifest.BackboneFileName] = "ab12" };
        Assert.True(LearnerSampleStore.RepresentationChanged(old, old with { Files = withBackbone }));
        Assert.True(LearnerSampleStore.RepresentationChanged(old, old with { Head = new HeadSpec([4, 16, 2], LossKind.SoftmaxCrossEntropy) }));
    }

    [Fact]
    public void Monitor_drift_makes_the_trigger_fire_and_a_run_clears_it()
    {
        var alarms = new List<DriftDetectedEventArgs>();
        var monitor = Monitor(Trigger.OnDrift(minNewSamples: 2), alarms);
        Assert.Null(monitor.CheckTrigger());

        monitor.ObserveLabel([0.9f, 0.1f], SampleLabel.Class(1)); // wrong: the detector fires on the 2nd update
        Assert.Null(monitor.CheckTrigger());
        monitor.ObserveLabel([0.9f, 0.1f], SampleLabel.Class(1));
        var alarm = Assert.Single(alarms);
        Assert.Equal("every 2", alarm.Source);
        Assert.Equal(0, alarm.WindowedAccuracy);
        Assert.Equal(TriggerReason.Drift, monitor.CheckTrigger()?.Reason);
        Assert.True(Status(monitor).DriftPending);

        Assert.Equal(1, monitor.BeginRun());
        Assert.False(Status(monitor).DriftPending);
        Assert.Null(monitor.CheckTrigger());
        Assert.Equal(2, monitor.BeginRun());
    }

    [Fact]
    public void Monitor_restarts_the_champion_window_on_a_new_champion_and_the_release_window_only_on_a_release()
    {
        var monitor = Monitor(null, []);
        monitor.ObserveLabel([0.2f, 0.8f], SampleLabel.Class(1));
        monitor.ObserveLabel([0.8f, 0.2f], SampleLabel.Class(1));
        Assert.Equal(0.5, Status(monitor).WindowedAccuracy);

        monitor.ChampionChanged();
        var afterPromotion = Status(monitor);
        Assert.Null(afterPromotion.WindowedAccuracy);
        Assert.Equal(0.5, afterPromotion.ReleaseWindowedAccuracy);
        Assert.Equal(2, afterPromotion.ReleaseWindowedSamples);

        monitor.ChampionChanged();
        monitor.ReleaseInstalled();
        Assert.Null(Status(monitor).ReleaseWindowedAccuracy);
        Assert.Equal(2, Status(monitor).Labelled);
    }

    [Fact]
    public void Monitor_counts_served_and_scored_samples_as_predictions_but_only_served_ones_in_the_status()
    {
        var monitor = Monitor(null, []);
        monitor.ObservePrediction([0f, 0f, 0f]);
        monitor.ObserveLabelledSample([0f, 0f, 0f], [0.2f, 0.8f], SampleLabel.Class(1));
        Assert.Equal(new LearnerCounters(2, 1, 0, TimeSpan.Zero, 0, 0), monitor.Counters.Snapshot());
        Assert.Equal(1, Status(monitor).Predictions);
    }

    [Fact]
    public void Serving_reports_both_class_probabilities_for_a_single_output_binary_head_and_serves_a_swapped_champion()
    {
        var bundle = ModelBundle.Load(_f.BasePath);
        var spec = new HeadSpec([3, 4, 1], LossKind.BinaryCrossEntropy);
        using var head = _f.Engine.Create(spec, bundle.TrainingOptions, seed: 1);
        ModelBundle.Save(Path.Combine(_f.Root, "binary"), bundle.Manifest with { Version = "1.1.0", Head = spec }, head.GetWeights());
        var binary = ModelBundle.Load(Path.Combine(_f.Root, "binary"));
        using var serving = new ChampionServing(_f.Engine, null, bundle);

        var before = serving.InferInto([1f, 2f, 3f], null, static n => new float[n]);
        Assert.Equal(("1.0.0", 2), (before.Version, before.ProbabilityCount));

        serving.Swap(binary);
        var after = serving.InferInto([1f, 2f, 3f], null, static n => new float[n]);
        Assert.Equal("1.1.0", after.Version);
        Assert.Equal(2, after.ProbabilityCount);
        Assert.Equal(1f, after.Probabilities[0] + after.Probabilities[1], 5);
        var prediction = serving.ToPrediction(7, after.Probabilities, after.Version);
        Assert.Equal(after.Probabilities[1] >= 0.5f ? "1" : "0", prediction.LabelName);
    }

    private LearnerMonitor Monitor(ITrigger? trigger, List<DriftDetectedEventArgs> alarms)
    {
        var options = _f.Options(trigger: trigger) with { DriftDetectorFactory = () => new EveryNthDetector(2) };
        return new LearnerMonitor(options, TimeProvider.System, NullLogger.Instance, ModelBundle.Load(_f.BasePath), alarms.Add);
    }

    private LearnerStatus Status(LearnerMonitor monitor) =>
        monitor.Status(ModelBundle.Load(_f.BasePath), "1.0.0", null, "managed", paused: false, training: false, NoSamples);
}
