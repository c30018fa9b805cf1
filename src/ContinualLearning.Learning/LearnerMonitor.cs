using ContinualLearning.Bundle;
using ContinualLearning.Drift;
using ContinualLearning.Evaluation;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Triggers;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Learning;

/// <summary>
/// What the learner knows about how the champion is doing: prequential (test-then-train) accuracy, the drift
/// detectors, the trigger policy's inputs and the counters. All of it behind one lock, so a status snapshot and a
/// trigger check see one consistent state.
/// </summary>
internal sealed class LearnerMonitor
{
    private readonly LearnerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<DriftDetectedEventArgs> _onDrift;
    private readonly IDriftDetector _detector;
    private readonly TriggerMonitor _trigger;
    private readonly Lock _lock = new();
    private PrequentialAccuracy _accuracy;

    // Accuracy since the installed global release (base) was installed, local promotions included: what telemetry
    // reports, because the aggregator's canary compares releases. _accuracy restarts with every champion instead.
    private PrequentialAccuracy _releaseAccuracy;
    private FeatureDriftMonitor? _featureMonitor;
    private bool _driftPending;
    private string? _driftSource;
    private double? _referenceAccuracy;
    private long _newLabelled;
    private long _runs;
    private PromotionDecision? _lastDecision;

    /// <summary>Starts watching <paramref name="champion"/>; <paramref name="onDrift"/> is called (under the monitor's lock, on the labelling thread) when a detector fires.</summary>
    public LearnerMonitor(LearnerOptions options, TimeProvider time, ILogger logger, ModelBundle champion, Action<DriftDetectedEventArgs> onDrift)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _onDrift = onDrift;
        _accuracy = new PrequentialAccuracy(options.AccuracyWindow);
        _releaseAccuracy = new PrequentialAccuracy(options.AccuracyWindow);
        _detector = options.DriftDetectorFactory?.Invoke() ?? new Adwin();
        _featureMonitor = NewFeatureMonitor(champion);
        _trigger = new TriggerMonitor(options.Trigger ?? DefaultTrigger(options.Challenger), time);
    }

    /// <summary>The counters a host exports; incremented atomically, some of them under this monitor's lock.</summary>
    public LearnerCounterSet Counters { get; } = new();

    /// <summary>A served prediction was logged: count it and feed its normalised features to the feature-drift monitor.</summary>
    public void ObservePrediction(ReadOnlySpan<float> normalized)
    {
        lock (_lock)
        {
            Counters.CountServedPrediction();
            ObserveFeatures(normalized);
        }
    }

    /// <summary>A sample arrived with its label and was scored by the champion before being stored.</summary>
    public void ObserveLabelledSample(ReadOnlySpan<float> normalized, ReadOnlySpan<float> prediction, SampleLabel label)
    {
        Counters.CountScoredSample();
        lock (_lock)
        {
            ObserveFeatures(normalized);
            Observe(prediction, label);
        }
    }

    /// <summary>A label was joined to a logged prediction.</summary>
    public void ObserveLabel(ReadOnlySpan<float> prediction, SampleLabel label)
    {
        lock (_lock) Observe(prediction, label);
    }

    /// <summary>Asks the trigger policy whether to train now; null when it does not fire.</summary>
    public TriggerDecision? CheckTrigger()
    {
        lock (_lock)
        {
            var windowed = Math.Min(_accuracy.Count, _accuracy.WindowSize);
            return _trigger.Check(_newLabelled, windowed > 0 ? _accuracy.WindowedAccuracy : null, windowed,
                _referenceAccuracy, _driftPending, _driftSource);
        }
    }

    /// <summary>A run starts: returns its number (1, 2, …) and clears what triggered it.</summary>
    public long BeginRun()
    {
        lock (_lock)
        {
            var run = ++_runs;
            _newLabelled = 0;
            _driftPending = false;
            _driftSource = null;
            _trigger.MarkRun();
            return run;
        }
    }

    /// <summary>
    /// A new champion serves (promotion, rollback or release): it is a new error stream, so its accuracy and drift are
    /// measured from scratch.
    /// </summary>
    public void ChampionChanged()
    {
        lock (_lock)
        {
            _accuracy = new PrequentialAccuracy(_options.AccuracyWindow);
            _detector.Reset();
        }
    }

    /// <summary>
    /// A challenger was promoted; <paramref name="referenceAccuracy"/> (its holdout accuracy, or null) is what a later
    /// accuracy drop is measured against.
    /// </summary>
    public void Promoted(double? referenceAccuracy)
    {
        lock (_lock)
        {
            Counters.CountPromotion();
            _referenceAccuracy = referenceAccuracy;
        }
    }

    /// <summary>The champion was rolled back: no reference accuracy for the accuracy-drop trigger until the next promotion.</summary>
    public void RolledBack()
    {
        lock (_lock) _referenceAccuracy = null;
    }

    public void RecordDecision(PromotionDecision decision)
    {
        lock (_lock) _lastDecision = decision;
    }

    /// <summary>The stored samples were deleted: nothing new is waiting, and the feature monitor starts over.</summary>
    public void SamplesWiped()
    {
        lock (_lock)
        {
            _newLabelled = 0;
            _featureMonitor?.Reset();
        }
    }

    /// <summary>A release changed the model's input: the stored samples are gone and features are watched by the new schema.</summary>
    public void InputChanged(ModelBundle release)
    {
        lock (_lock)
        {
            _newLabelled = 0;
            _featureMonitor = NewFeatureMonitor(release);
        }
    }

    /// <summary>A global release was installed (after <see cref="ChampionChanged"/>): its own accuracy window starts.</summary>
    public void ReleaseInstalled()
    {
        lock (_lock)
        {
            _referenceAccuracy = null;
            _releaseAccuracy = new PrequentialAccuracy(_options.AccuracyWindow);
        }
    }

    /// <summary>The learner's status: the monitor's state plus what the caller passes in.</summary>
    public LearnerStatus Status(ModelBundle champion, string baseVersion, string? previousVersion, string engine, bool paused, bool training, StoreStats store)
    {
        lock (_lock)
        {
            var windowed = Math.Min(_accuracy.Count, _accuracy.WindowSize);
            return new LearnerStatus
            {
                ModelName = champion.Manifest.Name,
                ModelVersion = champion.Manifest.Version,
                BaseVersion = baseVersion,
                PreviousVersion = previousVersion,
                Engine = engine,
                Mode = _options.Challenger.Mode,
                Paused = paused,
                Training = training,
                Predictions = Counters.ServedPredictions,
                Labelled = Counters.Labels,
                StoredSamples = store.Rows,
                FreshSamples = store.Fresh,
                ReplaySize = store.ReplayCount,
                TrainingRuns = _runs,
                Promotions = Counters.Promotions,
                DriftAlarms = Counters.DriftAlarms,
                WindowedAccuracy = windowed > 0 ? _accuracy.WindowedAccuracy : null,
                WindowedSamples = windowed,
                ReleaseWindowedAccuracy = _releaseAccuracy.Count > 0 ? _releaseAccuracy.WindowedAccuracy : null,
                ReleaseWindowedSamples = Math.Min(_releaseAccuracy.Count, _releaseAccuracy.WindowSize),
                DriftPending = _driftPending,
                DriftDetector = _detector.Name,
                LastDecision = _lastDecision,
            };
        }
    }

    /// <summary>Prequential test-then-train bookkeeping for one label (caller holds the lock).</summary>
    private void Observe(ReadOnlySpan<float> prediction, SampleLabel label)
    {
        Counters.CountLabel();
        _newLabelled++;
        if (label.Kind != SampleLabelKind.Class || prediction.IsEmpty) return;
        var predicted = prediction.Length == 1 ? (prediction[0] >= 0.5f ? 1 : 0) : ArgMax(prediction);
        _accuracy.Update(label.ClassIndex, predicted);
        _releaseAccuracy.Update(label.ClassIndex, predicted);
        _detector.Update(predicted == label.ClassIndex ? 0 : 1);
        if (_detector.DriftDetected) RaiseDrift(_detector.Name);
    }

    private void ObserveFeatures(ReadOnlySpan<float> normalized)
    {
        if (_featureMonitor is null) return;
        _featureMonitor.Add(normalized);
        if (!_featureMonitor.IsReady || Counters.ServedPredictions % 100 != 0) return;
        var report = _featureMonitor.Check();
        if (!report.AnyDrift) return;
        RaiseDrift("features: " + string.Join(", ", report.Drifted.Select(f => f.Name)));
        _featureMonitor.Rebase();
    }

    private void RaiseDrift(string source)
    {
        _driftPending = true;
        _driftSource = source;
        Counters.CountDriftAlarm();
        var windowed = _accuracy.Count > 0 ? _accuracy.WindowedAccuracy : double.NaN;
        LearnerLog.DriftDetected(_logger, source, windowed);
        _onDrift(new DriftDetectedEventArgs { Source = source, At = _time.GetUtcNow(), WindowedAccuracy = windowed });
    }

    private FeatureDriftMonitor? NewFeatureMonitor(ModelBundle bundle) =>
        // An audio model has no named features: its drift is watched on accuracy (ADWIN) only; see docs/learning.md.
        _options.FeatureDrift is { } fd && bundle.Features.Count > 0 ? new FeatureDriftMonitor(bundle.Features.FeatureNames, fd) : null;

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    private static ITrigger DefaultTrigger(ChallengerOptions challenger) =>
        Trigger.AnyOf(
            Trigger.OnDrift(challenger.MinSamples),
            Trigger.OnAccuracyDrop(0.10, 200),
            Trigger.AfterSamples(challenger.MaxSamples),
            Trigger.Every(TimeSpan.FromHours(6))).WithCooldown(TimeSpan.FromMinutes(1));
}
