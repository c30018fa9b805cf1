using ContinualLearning.Bundle;
using ContinualLearning.Drift;
using ContinualLearning.Evaluation;
using ContinualLearning.Features;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Tensors;
using ContinualLearning.Training;
using ContinualLearning.Triggers;
using Microsoft.Extensions.Logging;

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
public sealed class ContinualLearner : IAsyncDisposable, IDisposable
{
    private readonly LearnerOptions _options;
    private readonly ITrainingEngine _engine;
    private readonly TimeProvider _time;
    private readonly ILogger? _logger;
    private readonly CheckpointStore _checkpoints;
    private readonly TriggerMonitor _trigger;
    private readonly IDriftDetector _detector;
    private readonly SemaphoreSlim _trainGate = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _servingLock = new();   // champion model + bundle + pipeline
    private readonly Lock _statsLock = new();     // accuracy, detectors, counters
    private readonly Lock _checkpointLock = new(); // the model store has one writer at a time

    private SampleStore _store;
    private ModelBundle _champion;
    private ModelBundle _base;
    private IHeadModel _championModel;
    private IEmbeddingExtractor _extractor;
    private PrequentialAccuracy _accuracy;

    // Accuracy since the installed global release (base) was installed, local promotions included: what telemetry
    // reports, because the aggregator's canary compares releases. _accuracy restarts with every champion instead.
    private PrequentialAccuracy _releaseAccuracy;
    private FeatureDriftMonitor? _featureMonitor;
    private CancellationTokenSource? _runCts;
    private volatile bool _paused;
    private volatile bool _training;
    private bool _driftPending;
    private string? _driftSource;
    private double? _referenceAccuracy;
    private long _newLabelled, _runs;
    private readonly LearnerCounterSet _counters = new();
    private PromotionDecision? _lastDecision;
    private bool _isDisposed;

    private ContinualLearner(LearnerOptions options, ITrainingEngine engine, TimeProvider time, ILogger? logger,
        CheckpointStore checkpoints, ModelBundle champion, ModelBundle baseBundle)
    {
        _options = options;
        _engine = engine;
        _time = time;
        _logger = logger;
        _checkpoints = checkpoints;
        _champion = champion;
        _base = baseBundle;
        _extractor = CreateExtractor(champion);
        _championModel = engine.Create(champion.Head, champion.TrainingOptions, champion.HeadWeights);
        _store = OpenStore(champion, deleteExisting: false);
        _accuracy = new PrequentialAccuracy(options.AccuracyWindow);
        _releaseAccuracy = new PrequentialAccuracy(options.AccuracyWindow);
        _detector = options.DriftDetectorFactory?.Invoke() ?? new Adwin();
        _featureMonitor = options.FeatureDrift is { } fd ? new FeatureDriftMonitor(champion.Features.FeatureNames, fd) : null;
        _trigger = new TriggerMonitor(options.Trigger ?? DefaultTrigger(options.Challenger), time);
    }

    /// <summary>Raised (on the training thread) after a promotion was checkpointed.</summary>
    public event EventHandler<PromotedEventArgs>? Promoted;

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
        var checkpoints = new CheckpointStore(options.ModelStoreDirectory);
        if (checkpoints.Current is null)
        {
            if (options.BaseBundlePath is null)
                throw new InvalidOperationException($"Model store '{checkpoints.Directory}' holds no model and no base bundle was given: set LearnerOptions.BaseBundlePath to a global release bundle directory.");
            var release = ModelBundle.Load(options.BaseBundlePath);
            checkpoints.InstallBase(release);
            logger?.LogInformation("Installed global release {Version} from {Path} as base and champion", release.Manifest.Version, options.BaseBundlePath);
        }
        var champion = checkpoints.LoadChampion();
        var baseBundle = checkpoints.LoadBase();
        var learner = new ContinualLearner(options, engine, time ?? TimeProvider.System, logger, checkpoints, champion, baseBundle);
        logger?.LogInformation("Learner open: champion {Version} (base {Base}), engine {Engine}", champion.Manifest.Version, baseBundle.Manifest.Version, engine.Name);
        return Task.FromResult(learner);
    }

    /// <summary>The current champion's version.</summary>
    public string ModelVersion
    {
        get
        {
            lock (_servingLock) return _champion.Manifest.Version;
        }
    }

    /// <summary>The model store (checkpoints and decision log).</summary>
    public CheckpointStore Checkpoints => _checkpoints;

    /// <summary>
    /// What this learner has counted since it was opened: the one source for a host's counters (a prediction is counted
    /// once whichever transport it came from). Cheap: six atomic reads, no lock.
    /// </summary>
    public LearnerCounters Counters => _counters.Snapshot();

    /// <summary>A status snapshot.</summary>
    public LearnerStatus Status
    {
        get
        {
            ModelBundle champion;
            lock (_servingLock) champion = _champion;
            var stats = _store.GetStats();
            lock (_statsLock)
            {
                var windowed = Math.Min(_accuracy.Count, _accuracy.WindowSize);
                return new LearnerStatus
                {
                    ModelName = champion.Manifest.Name,
                    ModelVersion = champion.Manifest.Version,
                    BaseVersion = _base.Manifest.Version,
                    PreviousVersion = PreviousVersion(),
                    Engine = _engine.Name,
                    Mode = _options.Challenger.Mode,
                    Paused = _paused,
                    Training = _training,
                    Predictions = _counters.ServedPredictions,
                    Labelled = _counters.Labels,
                    StoredSamples = stats.Rows,
                    FreshSamples = stats.Fresh,
                    ReplaySize = stats.ReplayCount,
                    TrainingRuns = _runs,
                    Promotions = _counters.Promotions,
                    DriftAlarms = _counters.DriftAlarms,
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
    }

    /// <summary>Predicts for raw features in schema order and logs the sample; send its label with <see cref="Label(long, string)"/>.</summary>
    /// <exception cref="FeatureValidationException">Wrong feature count or a non-finite value.</exception>
    public Prediction Predict(ReadOnlySpan<float> rawFeatures)
    {
        var (input, probabilities, version, normalized) = Infer(rawFeatures, null);
        return Log(input, probabilities, version, normalized);
    }

    /// <summary>Predicts for features given by name.</summary>
    /// <exception cref="FeatureValidationException">A missing, unknown or non-finite feature.</exception>
    public Prediction Predict(IReadOnlyDictionary<string, float> rawFeatures)
    {
        ArgumentNullException.ThrowIfNull(rawFeatures);
        var (input, probabilities, version, normalized) = Infer(default, rawFeatures);
        return Log(input, probabilities, version, normalized);
    }

    /// <summary>Joins a label (by name) to a logged prediction.</summary>
    /// <exception cref="ArgumentException">Unknown label name.</exception>
    /// <exception cref="SampleRejectedException">Unknown, used or expired sample id, or a different label already set.</exception>
    public void Label(long sampleId, string label) => Label(sampleId, RequireLabels().IndexOf(label));

    /// <summary>Joins a label (class index) to a logged prediction.</summary>
    public void Label(long sampleId, int labelIndex) => JoinLabel(sampleId, SampleLabel.Class(labelIndex));

    /// <summary>Joins regression values to a logged prediction.</summary>
    public void Label(long sampleId, ReadOnlySpan<float> values) => JoinLabel(sampleId, SampleLabel.FromValues(values));

    /// <summary>Adds a sample that arrived with its label (tested by the champion first, for the prequential metrics).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, string label) => AddLabelled(rawFeatures, RequireLabels().IndexOf(label));

    /// <summary>Adds a sample that arrived with its label (class index).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, int labelIndex) => AddLabelled(rawFeatures, SampleLabel.Class(labelIndex));

    /// <summary>Adds a sample that arrived with its label (regression values).</summary>
    public long AddLabelled(ReadOnlySpan<float> rawFeatures, ReadOnlySpan<float> values) => AddLabelled(rawFeatures, SampleLabel.FromValues(values));

    /// <summary>Checks the trigger policy and trains when it fires; null when it did not fire (or learning is paused).</summary>
    public Task<TrainingRunResult?> MaybeTrainAsync(CancellationToken cancellationToken = default)
    {
        if (_paused) return Task.FromResult<TrainingRunResult?>(null);
        TriggerDecision? decision;
        lock (_statsLock)
        {
            var windowed = Math.Min(_accuracy.Count, _accuracy.WindowSize);
            decision = _trigger.Check(_newLabelled, windowed > 0 ? _accuracy.WindowedAccuracy : null, windowed,
                _referenceAccuracy, _driftPending, _driftSource);
        }
        if (decision is null) return Task.FromResult<TrainingRunResult?>(null);
        _logger?.LogInformation("Trigger {Reason}: {Message}", decision.Reason, decision.Message);
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
        if (result is not null) _counters.CountTrainingRun(_time.GetElapsedTime(started));
        return result;
    }

    private async Task<TrainingRunResult?> RunAsync(string reason, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        if (_paused) return null;
        var compact = false;
        await _trainGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_paused) return null;
            using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            _runCts = runCts;
            var token = runCts.Token;
            var opts = _options.Challenger;
            var fresh = _store.TakeFreshBatch(opts.MaxSamples);
            var ids = fresh.Select(s => s.Id).ToArray();
            if (fresh.Count < opts.MinSamples)
            {
                _store.Release(ids);
                _logger?.LogDebug("Run skipped ({Reason}): {Count} fresh samples, {Min} needed", reason, fresh.Count, opts.MinSamples);
                return null;
            }
            // Only for runs that happen: a trigger that fires with too few samples can repeat every check interval.
            compact = _options.CompactHeapAroundRuns;
            if (compact) CompactHeap();

            ModelBundle champion;
            lock (_servingLock) champion = _champion;
            long run;
            lock (_statsLock)
            {
                run = ++_runs;
                _newLabelled = 0;
                _driftPending = false;
                _driftSource = null;
                _trigger.MarkRun();
            }
            _training = true;
            ChallengerResult result;
            try
            {
                IReplaySource? replay = _store.Replay.Capacity > 0 ? _store.Replay : null;
                result = await Task.Run(() => ChallengerTrainer.Run(_engine, champion.Head, champion.TrainingOptions, champion.HeadWeights,
                    fresh, replay, opts, (int)run, token), token).ConfigureAwait(false);
                token.ThrowIfCancellationRequested();
            }
            catch
            {
                // Cancelled or failed before anything was committed: the samples are still unused.
                _store.Release(ids);
                _logger?.LogInformation("Run {Run} ({Reason}) aborted; {Count} samples released", run, reason, ids.Length);
                throw;
            }
            finally
            {
                _training = false;
            }

            string? newVersion = null;
            if (result.BeatsChampion)
            {
                ModelBundle promoted;
                lock (_checkpointLock)
                {
                    newVersion = LocalVersion.Next(_base.Manifest.Version, _checkpoints.NextLocalNumber);
                    var manifest = champion.Manifest with
                    {
                        Version = newVersion,
                        ParentVersion = champion.Manifest.Version,
                        CreatedUtc = _time.GetUtcNow().UtcDateTime,
                    };
                    promoted = _checkpoints.Promote(manifest, result.Weights, champion.BackbonePath);
                }
                SwapChampion(promoted);
                lock (_statsLock)
                {
                    _counters.CountPromotion();
                    _referenceAccuracy = result.Metric == DecisionMetric.Accuracy ? result.ChallengerMetric : null;
                }
            }

            // Each fresh sample is used once: offered to replay (which keeps a policy-chosen few), then deleted.
            if (_store.Replay.Capacity > 0) _store.Replay.Offer(fresh);
            _store.MarkUsed(ids);

            var decision = new PromotionDecision
            {
                Time = _time.GetUtcNow(),
                TriggerReason = reason,
                Mode = opts.Mode == LearningMode.Stateful ? "stateful" : "stateless",
                Metric = result.Metric,
                ChampionMetric = result.ChampionMetric,
                ChallengerMetric = result.ChallengerMetric,
                Margin = result.Margin,
                TrainSamples = result.TrainSamples,
                HoldoutSamples = result.HoldoutSamples,
                ReplayedRows = result.ReplayedRows,
                Steps = result.Steps,
                SampleGradients = result.SampleGradients,
                WallTime = result.WallTime,
                Promoted = result.BeatsChampion,
                ChampionVersion = champion.Manifest.Version,
                NewVersion = newVersion,
            };
            lock (_checkpointLock) _checkpoints.AppendDecision(decision);
            lock (_statsLock) _lastDecision = decision;
            _logger?.LogInformation("Run {Run} ({Reason}): champion {Champion:0.####} vs challenger {Challenger:0.####} on {Holdout} held out → {Outcome}",
                run, reason, result.ChampionMetric, result.ChallengerMetric, result.HoldoutSamples, newVersion is null ? "discarded" : $"promoted {newVersion}");

            if (newVersion is not null)
            {
                Promoted?.Invoke(this, new PromotedEventArgs
                {
                    NewVersion = newVersion,
                    BaseVersion = _base.Manifest.Version,
                    ChampionWeights = [.. result.Weights.Select(t => t.Clone())],
                    BaseWeights = [.. _base.HeadWeights.Select(t => t.Clone())],
                    SamplesUsed = fresh.Count,
                    Decision = decision,
                });
            }
            return new TrainingRunResult(decision, ids);
        }
        finally
        {
            _runCts = null;
            if (compact) CompactHeap();
            _trainGate.Release();
        }
    }

    /// <summary>
    /// Makes the previous champion the champion again (checkpointed). Returns false when there is none. The rolled-back
    /// version is forgotten, so a second rollback returns false. A run in progress finishes against its starting champion.
    /// </summary>
    public bool Rollback()
    {
        ModelBundle? restored;
        lock (_checkpointLock) restored = _checkpoints.Rollback();
        if (restored is null) return false;
        SwapChampion(restored);
        lock (_statsLock) _referenceAccuracy = null;
        _logger?.LogWarning("Rolled back to {Version}", restored.Manifest.Version);
        return true;
    }

    /// <summary>Stops training — an in-progress run is cancelled and its samples released; serving and labelling continue.</summary>
    public void Pause()
    {
        _paused = true;
        CancelRun();
    }

    /// <summary>Resumes training.</summary>
    public void Resume() => _paused = false;

    /// <summary>Deletes every stored sample and the replay buffer (an in-progress run is cancelled first).</summary>
    public void WipeData()
    {
        CancelRun();
        _trainGate.Wait();
        try
        {
            _store.Wipe();
            lock (_statsLock)
            {
                _newLabelled = 0;
                _featureMonitor?.Reset();
            }
        }
        finally
        {
            _trainGate.Release();
        }
        _logger?.LogWarning("Sample store and replay buffer wiped");
    }

    /// <summary>
    /// Installs a new global release as base and champion (the old champion becomes previous). An in-progress run is
    /// cancelled and its fresh samples are kept for the next run, which trains on the new base. When the release
    /// changes the model's input (schema statistics, backbone or head input size) the stored samples and replay buffer
    /// are in the old representation and are wiped.
    /// </summary>
    public async Task RebaseAsync(ModelBundle newGlobal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newGlobal);
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        var old = _champion.Manifest;
        if (!newGlobal.Manifest.Task.Equals(old.Task) || newGlobal.Head.Loss != old.Head.Loss || newGlobal.Head.OutputSize != old.Head.OutputSize)
            throw new InvalidOperationException($"Release {newGlobal.Manifest.Version} has a different task or output ({newGlobal.Head}) than {old.Version} ({old.Head}); a device cannot rebase across tasks. Install it as a fresh model store instead.");
        CancelRun();
        await _trainGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var representationChanged = !newGlobal.Manifest.InputSchema.Equals(old.InputSchema)
                || newGlobal.Head.InputSize != old.Head.InputSize
                || BackboneHash(newGlobal.Manifest) != BackboneHash(old);
            ModelBundle installed;
            lock (_checkpointLock) installed = _checkpoints.InstallBase(newGlobal);
            _base = installed;
            if (representationChanged)
            {
                var extractor = CreateExtractor(installed);
                _store.Dispose();
                _store = OpenStore(installed, deleteExisting: true);
                lock (_servingLock)
                {
                    _extractor.Dispose();
                    _extractor = extractor;
                }
                lock (_statsLock)
                {
                    _newLabelled = 0;
                    _featureMonitor = _options.FeatureDrift is { } fd ? new FeatureDriftMonitor(installed.Features.FeatureNames, fd) : null;
                }
            }
            SwapChampion(installed);
            lock (_statsLock)
            {
                _referenceAccuracy = null;
                _releaseAccuracy = new PrequentialAccuracy(_options.AccuracyWindow);
            }
            _logger?.LogInformation("Rebased on global release {Version}{Wiped}", installed.Manifest.Version, representationChanged ? " (input changed: samples and replay wiped)" : "");
        }
        finally
        {
            _trainGate.Release();
        }
    }

    // A full, compacting GC that also returns free memory to the OS (GCCollectionMode.Aggressive); see
    // LearnerOptions.CompactHeapAroundRuns for when and why.
    private static void CompactHeap() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    public async ValueTask DisposeAsync()
    {
        if (_isDisposed) return;
        CancelRun();
        await _trainGate.WaitAsync().ConfigureAwait(false);
        DisposeCore();
    }

    public void Dispose()
    {
        if (_isDisposed) return;
        CancelRun();
        _trainGate.Wait();
        DisposeCore();
    }

    private void DisposeCore()
    {
        _isDisposed = true;
        _disposed.Cancel();
        lock (_servingLock)
        {
            _championModel.Dispose();
            _extractor.Dispose();
        }
        _store.Dispose();
        _disposed.Dispose();
        _trainGate.Release();
    }

    private (float[] Input, float[] Probabilities, string Version, float[] Normalized) Infer(ReadOnlySpan<float> raw, IReadOnlyDictionary<string, float>? named)
    {
        // Exact-size arrays: a served prediction keeps them (store log, response).
        var r = InferInto(raw, named, static n => new float[n]);
        return (r.Input, r.Probabilities, r.Version, r.Normalized);
    }

    /// <summary>What <see cref="InferInto"/> wrote: each array holds its values in its first <c>…Count</c> elements.</summary>
    private readonly record struct Inference(float[] Normalized, int NormalizedCount, float[] Input, int InputCount, float[] Probabilities, int ProbabilityCount, string Version);

    // The serving path once: normalise → backbone embedding → champion head, into buffers from `buffer` (exact-size
    // arrays for predictions, pooled ones for labelled samples that are only scored).
    private Inference InferInto(ReadOnlySpan<float> raw, IReadOnlyDictionary<string, float>? named, Func<int, float[]> buffer)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        lock (_servingLock)
        {
            var pipeline = _champion.Features;
            var normalized = buffer(pipeline.Count);
            if (named is null) pipeline.Normalize(raw, normalized.AsSpan(0, pipeline.Count));
            else pipeline.Normalize(named, normalized.AsSpan(0, pipeline.Count));
            var embedding = _extractor.EmbeddingSize;
            var input = buffer(embedding);
            _extractor.Embed(normalized.AsSpan(0, pipeline.Count), 1, input.AsSpan(0, embedding));
            // A single-output binary head gives P(label 1); report one probability per class like softmax does.
            var outputSize = _champion.Head.OutputSize;
            var binary = _champion.Labels is not null && outputSize == 1;
            var output = buffer(binary ? 2 : outputSize);
            _championModel.Predict(input.AsSpan(0, embedding), 1, output.AsSpan(0, outputSize));
            if (binary)
            {
                output[1] = output[0];
                output[0] = 1 - output[1];
            }
            return new Inference(normalized, pipeline.Count, input, embedding, output, binary ? 2 : outputSize, _champion.Manifest.Version);
        }
    }

    private Prediction Log(float[] input, float[] probabilities, string version, float[] normalized)
    {
        // The exact head input is logged, so training later sees what serving saw (no training/serving skew).
        var id = _store.LogPrediction(input, probabilities, version);
        lock (_statsLock)
        {
            _counters.CountServedPrediction();
            ObserveFeatures(normalized);
        }
        return ToPrediction(id, probabilities, version);
    }

    private Prediction ToPrediction(long id, float[] probabilities, string version)
    {
        var labels = _champion.Labels;
        if (labels is null) return new Prediction(id, -1, null, probabilities, version);
        var index = ChallengerTrainer.PredictedClass(_champion.Head, probabilities);
        return new Prediction(id, index, labels.NameOf(index), probabilities, version);
    }

    private long AddLabelled(ReadOnlySpan<float> rawFeatures, SampleLabel label)
    {
        // Labelled samples arrive in bursts (12,000 over MQTT in docs/benchmarks.md) and their probabilities are only
        // scored, never returned, so the three per-sample arrays come from the pool instead of the GC heap.
        var pool = System.Buffers.ArrayPool<float>.Shared;
        var r = InferInto(rawFeatures, null, static n => System.Buffers.ArrayPool<float>.Shared.Rent(n));
        try
        {
            var id = _store.AddLabelled(r.Input.AsSpan(0, r.InputCount), label);
            _counters.CountScoredSample();
            lock (_statsLock)
            {
                ObserveFeatures(r.Normalized.AsSpan(0, r.NormalizedCount));
                Observe(r.Probabilities.AsSpan(0, r.ProbabilityCount), label);
            }
            return id;
        }
        finally
        {
            pool.Return(r.Normalized);
            pool.Return(r.Input);
            pool.Return(r.Probabilities);
        }
    }

    private void JoinLabel(long sampleId, SampleLabel label)
    {
        ObjectDisposedException.ThrowIf(_isDisposed, this);
        var join = _store.AddLabel(sampleId, label);
        lock (_statsLock) Observe(join.Prediction, label);
    }

    /// <summary>Prequential test-then-train bookkeeping for one label (caller holds the stats lock).</summary>
    private void Observe(ReadOnlySpan<float> prediction, SampleLabel label)
    {
        _counters.CountLabel();
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
        if (!_featureMonitor.IsReady || _counters.ServedPredictions % 100 != 0) return;
        var report = _featureMonitor.Check();
        if (!report.AnyDrift) return;
        RaiseDrift("features: " + string.Join(", ", report.Drifted.Select(f => f.Name)));
        _featureMonitor.Rebase();
    }

    private void RaiseDrift(string source)
    {
        _driftPending = true;
        _driftSource = source;
        _counters.CountDriftAlarm();
        var windowed = _accuracy.Count > 0 ? _accuracy.WindowedAccuracy : double.NaN;
        _logger?.LogWarning("Drift detected by {Source}; windowed accuracy {Accuracy:0.####}", source, windowed);
        DriftDetected?.Invoke(this, new DriftDetectedEventArgs { Source = source, At = _time.GetUtcNow(), WindowedAccuracy = windowed });
    }

    private void SwapChampion(ModelBundle bundle)
    {
        var model = _engine.Create(bundle.Head, bundle.TrainingOptions, bundle.HeadWeights);
        IHeadModel old;
        lock (_servingLock)
        {
            old = _championModel;
            _championModel = model;
            _champion = bundle;
        }
        old.Dispose();
        lock (_statsLock)
        {
            // A new champion is a new error stream: its accuracy and drift are measured from scratch.
            _accuracy = new PrequentialAccuracy(_options.AccuracyWindow);
            _detector.Reset();
        }
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

    private string? PreviousVersion()
    {
        lock (_checkpointLock)
        {
            var previous = _checkpoints.Current?.Previous;
            if (previous is null) return null;
            var dash = previous.IndexOf('-', StringComparison.Ordinal);
            return dash >= 0 ? previous[(dash + 1)..] : previous;
        }
    }

    private LabelMap RequireLabels() =>
        _champion.Labels ?? throw new InvalidOperationException($"Model {_champion.Manifest.Name} {_champion.Manifest.Version} is a regression model: labels are values, not class names.");

    private IEmbeddingExtractor CreateExtractor(ModelBundle bundle)
    {
        if (bundle.BackbonePath is null) return new IdentityEmbeddingExtractor(bundle.Features.Count);
        // Default: ONNX Runtime, one intra-op thread (devices have 1–4 cores and also train).
        var factory = _options.BackboneFactory ?? (path => new ContinualLearning.Onnx.OnnxBackbone(path));
        var extractor = factory(bundle.BackbonePath);
        if (extractor.InputSize != bundle.Features.Count || extractor.EmbeddingSize != bundle.Head.InputSize)
            throw new BundleException($"Backbone {bundle.BackbonePath} maps {extractor.InputSize} → {extractor.EmbeddingSize} floats; the manifest needs {bundle.Features.Count} features → {bundle.Head.InputSize} head inputs.");
        return extractor;
    }

    private SampleStore OpenStore(ModelBundle bundle, bool deleteExisting)
    {
        var classification = bundle.Labels is not null;
        var options = new SampleStoreOptions
        {
            DatabasePath = _options.StorePath,
            AllowPersistent = _options.AllowPersistentStore,
            DeleteOnDispose = _options.DeleteStoreOnDispose,
            FeatureCount = bundle.Head.InputSize,
            LabelKind = classification ? StoreLabelKind.Class : StoreLabelKind.Values,
            LabelCount = classification ? bundle.Labels!.Count : bundle.Head.TargetWidth,
            MaxRows = _options.MaxStoredSamples,
            Ttl = _options.SampleTtl,
            ReplayCapacity = _options.ReplayCapacity,
            ReplayPolicy = _options.ReplayPolicy,
            ReplaySeed = _options.Challenger.Seed,
        };
        if (deleteExisting)
        {
            var path = options.DatabasePath ?? SampleStoreOptions.DefaultDatabasePath;
            foreach (var f in new[] { path, path + "-wal", path + "-shm" })
                if (File.Exists(f)) File.Delete(f);
        }
        return new SampleStore(options, _time);
    }

    private static string? BackboneHash(ModelManifest m) => m.Files.TryGetValue(ModelManifest.BackboneFileName, out var h) ? h : null;

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
