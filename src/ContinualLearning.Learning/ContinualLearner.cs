using System.Buffers;
using ContinualLearning.Bundle;
using ContinualLearning.Features;
using ContinualLearning.Pipelines;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Learning;

/// <summary>
/// The device's continual learning loop, usable on its own as a library: serve predictions with the champion and log
/// their features ("log and wait"), join labels, watch accuracy and drift, and — when the trigger policy says so —
/// train a challenger on fresh ⊕ replay samples, promote it if it beats the champion on a recent holdout, and
/// checkpoint it crash-safely. See docs/learning.md.
/// </summary>
/// <remarks>
/// Thread-safety: <see cref="Predict(ReadOnlySpan{float})"/>, the Label/AddLabelled methods and <see cref="Status"/>
/// may be called from any thread while a run trains: the challenger is a separate model, and the champion is swapped
/// under a lock. One run at a time. Do not call <see cref="WipeData"/>, <see cref="RebaseAsync"/> or Dispose from a
/// <see cref="Promoted"/> handler (they wait for the run that raised it).
/// </remarks>
public sealed partial class ContinualLearner : IAsyncDisposable, IDisposable
{
    private readonly LearnerOptions _options;
    private readonly ITrainingEngine _engine;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LearnerCheckpoints _checkpoints;
    private readonly ChampionServing _serving;
    private readonly LearnerMonitor _monitor;
    private readonly TrainingRunner _runner;
    private readonly SemaphoreSlim _trainGate = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private SampleStore _store;
    private CancellationTokenSource? _runCts;
    private volatile bool _paused;
    private bool _isDisposed;

    private ContinualLearner(LearnerOptions options, ITrainingEngine engine, TimeProvider time, ILogger logger,
        LearnerCheckpoints checkpoints, ModelBundle champion)
    {
        _options = options;
        _engine = engine;
        _time = time;
        _logger = logger;
        _checkpoints = checkpoints;
        _serving = new ChampionServing(engine, options.BackboneFactory, champion);
        _store = LearnerSampleStore.OpenOrRecreate(options, champion, time, logger);
        _monitor = new LearnerMonitor(options, time, logger, champion, e => DriftDetected?.Invoke(this, e));
        _runner = new TrainingRunner(options, engine, time, logger, _serving, _monitor, checkpoints);
    }

    /// <summary>Raised (on the training thread) after a promotion was checkpointed.</summary>
    public event EventHandler<PromotedEventArgs>? Promoted;

    /// <summary>
    /// Called before each run trains, on the run's thread, with the fresh samples it is about to train on; what it
    /// returns travels with the promotion as <see cref="PromotedEventArgs.RunMetrics"/>. Null (default) = nothing is
    /// measured. It must not throw and must not keep the samples.
    /// </summary>
    public Func<RunScoring, IReadOnlyDictionary<string, double>?>? RunScorer { get; set; }

    /// <summary>Raised (on the labelling thread) when a drift detector fires.</summary>
    public event EventHandler<DriftDetectedEventArgs>? DriftDetected;

    /// <summary>
    /// Opens the learner: loads the champion from the model store (or installs <see cref="LearnerOptions.BaseBundlePath"/>
    /// as the first global version), opens the transient sample store and replay buffer.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="InvalidOperationException">The model store is empty and no base bundle was given.</exception>
    /// <exception cref="BundleException">A bundle fails verification.</exception>
    public static Task<ContinualLearner> OpenAsync(LearnerOptions options, ITrainingEngine engine, TimeProvider? time = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engine);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        logger ??= NullLogger.Instance;
        var (checkpoints, champion) = LearnerCheckpoints.Open(options, logger);
        _ = PersonalHead.Names(champion.Head, options); // a head too shallow to personalise fails here, not at the first run
        var learner = new ContinualLearner(options, engine, time ?? TimeProvider.System, logger, checkpoints, champion);
        LearnerLog.Opened(logger, champion.Manifest.Version, checkpoints.Base.Manifest.Version, engine.Name);
        return Task.FromResult(learner);
    }

    /// <summary>The current champion's version.</summary>
    public string ModelVersion => _serving.Champion.Manifest.Version;

    /// <summary>The transient sample store (tests read what was logged).</summary>
    internal SampleStore Store => _store;

    /// <summary>The model store (checkpoints and decision log).</summary>
    public CheckpointStore Checkpoints => _checkpoints.Store;

    /// <summary>
    /// What this learner has counted since it was opened: the one source for a host's counters (a prediction is counted
    /// once whichever transport it came from). Cheap: a few atomic reads, no lock.
    /// </summary>
    public LearnerCounters Counters => _monitor.Counters.Snapshot();

    /// <summary>A status snapshot.</summary>
    public LearnerStatus Status
    {
        get
        {
            var champion = _serving.Champion;
            var stats = _store.GetStats();
            return _monitor.Status(champion, _checkpoints.Base.Manifest.Version, _checkpoints.PreviousVersion(), _engine.Name,
                _paused, _runner.IsTraining, stats);
        }
    }

    /// <summary>What the champion's raw input is: features, or audio (then <see cref="AudioInput"/> says which).</summary>
    public InputKind InputKind => _serving.Champion.InputKind;

    /// <summary>The audio the champion accepts (sample rate, min/max samples), or null for a feature model.</summary>
    public AudioInputSpec? AudioInput => _serving.Champion.Manifest.InputSchema.Audio;

    /// <summary>
    /// Predicts and logs the sample (its head input: for audio the embedding, never the PCM); send its label with
    /// <see cref="Label(long, string)"/>. A feature model takes raw features in schema order; an audio model
    /// (<see cref="InputKind"/>) mono PCM at <see cref="AudioInput"/>'s rate as int16-scale floats.
    /// </summary>
    /// <exception cref="FeatureValidationException">Wrong feature count or a non-finite value; an empty or over-long clip.</exception>
    public Prediction Predict(ReadOnlySpan<float> rawFeatures) => Serve(rawFeatures, null);

    /// <summary>Predicts for features given by name.</summary>
    /// <exception cref="FeatureValidationException">A missing, unknown or non-finite feature.</exception>
    public Prediction Predict(IReadOnlyDictionary<string, float> rawFeatures)
    {
        ArgumentNullException.ThrowIfNull(rawFeatures);
        return Serve(default, rawFeatures);
    }

    /// <summary>Joins a label (by name) to a logged prediction.</summary>
    /// <exception cref="ArgumentException">Unknown label name.</exception>
    /// <exception cref="SampleRejectedException">Unknown, used or expired sample id, or a different label already set.</exception>
    public void Label(long sampleId, string label) => Label(sampleId, _serving.RequireLabels().IndexOf(label));

    /// <summary>Joins a label (class index) to a logged prediction.</summary>
    public void Label(long sampleId, int labelIndex) => JoinLabel(sampleId, SampleLabel.Class(labelIndex));

    /// <summary>Joins regression values to a logged prediction.</summary>
    public void Label(long sampleId, ReadOnlySpan<float> values) => JoinLabel(sampleId, SampleLabel.FromValues(values));

    /// <summary>
    /// Adds a sample that arrived with its label (tested by the champion first, for the prequential metrics): raw
    /// features, or PCM for an audio model (stored as its embedding).
    /// </summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, string label) => AddLabelled(rawFeatures, _serving.RequireLabels().IndexOf(label));

    /// <summary>Adds a sample that arrived with its label (class index).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, int labelIndex) => AddLabelled(rawFeatures, SampleLabel.Class(labelIndex));

    /// <summary>Adds a sample that arrived with its label (regression values).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, ReadOnlySpan<float> values) => AddLabelled(rawFeatures, SampleLabel.FromValues(values));

    /// <summary>Checks the trigger policy and trains when it fires; null when it did not fire (or learning is paused).</summary>
    public Task<TrainingRunResult?> MaybeTrainAsync(CancellationToken cancellationToken = default)
    {
        if (_paused) return Task.FromResult<TrainingRunResult?>(null);
        var decision = _monitor.CheckTrigger();
        if (decision is null) return Task.FromResult<TrainingRunResult?>(null);
        LearnerLog.Triggered(_logger, decision.Reason, decision.Message);
        return TrainNowAsync($"{decision.Reason.ToString().ToLowerInvariant()}: {decision.Message}", cancellationToken);
    }

    /// <summary>
    /// Runs a champion/challenger round now; null when there are too few fresh samples or learning is paused.
    /// Cancellation aborts cleanly: the run's samples go back to fresh and the champion is untouched.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled (by the token, <see cref="Pause"/>, <see cref="RebaseAsync"/>, <see cref="WipeData"/> or dispose).</exception>
    public async Task<TrainingRunResult?> TrainNowAsync(string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        // Timed around the whole call (the wait for a running run and the heap compaction included): the device's
        // CPU budget for learning.
        var started = _time.GetTimestamp();
        var result = await RunAsync(reason, cancellationToken).ConfigureAwait(false);
        if (result is not null) _monitor.Counters.CountTrainingRun(_time.GetElapsedTime(started));
        return result;
    }

    /// <summary>Cancels a running run, waits for it, then closes the champion and the sample store.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_isDisposed) return;
        CancelRun();
        await _trainGate.WaitAsync().ConfigureAwait(false);
        DisposeCore();
    }

    /// <summary>Cancels a running run, waits for it, then closes the champion and the sample store.</summary>
    public void Dispose()
    {
        if (_isDisposed) return;
        CancelRun();
        _trainGate.Wait();
        DisposeCore();
    }

    private async Task<TrainingRunResult?> RunAsync(string reason, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        if (_paused) return null;
        await _trainGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_paused) return null;
            using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            _runCts = runCts;
            return await _runner.RunAsync(_store, reason, RunScorer, e => Promoted?.Invoke(this, e), runCts.Token).ConfigureAwait(false);
        }
        finally
        {
            _runCts = null;
            _trainGate.Release();
        }
    }

    private void DisposeCore()
    {
        _isDisposed = true;
        _disposed.Cancel();
        _serving.Dispose();
        _store.Dispose();
        _disposed.Dispose();
        _trainGate.Release();
    }

    private Prediction Serve(ReadOnlySpan<float> raw, IReadOnlyDictionary<string, float>? named)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        // Exact-size arrays: a served prediction keeps them (store log, response).
        var r = _serving.InferInto(raw, named, static n => new float[n]);
        // The exact head input is logged, so training later sees what serving saw (no training/serving skew).
        var id = _store.LogPrediction(r.Input, r.Probabilities, r.Version);
        _monitor.ObservePrediction(r.Normalized);
        return _serving.ToPrediction(id, r.Probabilities, r.Version);
    }

    private long AddLabelled(ReadOnlySpan<float> rawFeatures, SampleLabel label)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        // Labelled samples arrive in bursts (12,000 over MQTT in docs/benchmarks.md) and their probabilities are only
        // scored, never returned, so the three per-sample arrays come from the pool instead of the GC heap.
        var pool = ArrayPool<float>.Shared;
        var r = _serving.InferInto(rawFeatures, null, static n => ArrayPool<float>.Shared.Rent(n));
        try
        {
            var id = _store.AddLabelled(r.Input.AsSpan(0, r.InputCount), label);
            _monitor.ObserveLabelledSample(r.Normalized.AsSpan(0, r.NormalizedCount), r.Probabilities.AsSpan(0, r.ProbabilityCount), label);
            return id;
        }
        finally
        {
            if (r.NormalizedCount > 0) pool.Return(r.Normalized);
            pool.Return(r.Input);
            pool.Return(r.Probabilities);
        }
    }

    private void JoinLabel(long sampleId, SampleLabel label)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        var join = _store.AddLabel(sampleId, label);
        _monitor.ObserveLabel(join.Prediction, label);
    }

    // The stored samples and replay rows follow their classes by name (caller holds the train gate).
    private void RemapStore(IReadOnlyList<string> from, IReadOnlyList<string> to)
    {
        if (from.SequenceEqual(to, StringComparer.Ordinal)) return;
        _store = _store.RemapClasses(LabelSpace.IndexMap(from, to), to.Count);
    }

    private void SwapChampion(ModelBundle bundle)
    {
        _serving.Swap(bundle);
        _monitor.ChampionChanged();
    }

    private void CancelRun()
    {
        try
        {
            _runCts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run finished between the read and the cancel.
        }
    }
}
