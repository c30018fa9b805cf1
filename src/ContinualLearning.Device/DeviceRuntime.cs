using ContinualLearning.Bundle;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Serving;
using ContinualLearning.Learning;
using ContinualLearning.Training;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Device;

/// <summary>No model is installed yet: the device waits for its first signed release (or a --bundle).</summary>
public sealed class NoModelException : InvalidOperationException
{
    public NoModelException()
        : base("No model is installed yet: the device is waiting for a signed release on the fleet's release topic (or start it with --bundle <dir>).")
    {
    }

    public NoModelException(string message)
        : base(message)
    {
    }

    public NoModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The device's learning side, shared by the HTTP endpoints, the MQTT agent, the GPIO button and the training loop:
/// it owns the <see cref="ContinualLearner"/> (absent until a first model arrives), counts what happens for
/// <c>/metrics</c>, remembers the last prediction (for the label button) and runs the trigger-policy loop.
/// A new global release replaces the learner's base through <see cref="InstallAsync"/>.
/// </summary>
public sealed class DeviceRuntime : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _install = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0);
    private ContinualLearner? _learner;
    private Prediction? _lastPrediction;
    private volatile bool _training;
    private volatile string? _lastError;
    private long _loopHeartbeatTicks;

    public DeviceRuntime(DeviceOptions options, ITrainingEngine engine, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(engine);
        Options = options;
        Engine = engine;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<DeviceRuntime>();
        _time = time ?? TimeProvider.System;
        _loopHeartbeatTicks = _time.GetUtcNow().UtcTicks;
    }

    public DeviceOptions Options { get; }

    public ITrainingEngine Engine { get; }

    public DeviceMetrics Metrics { get; } = new();

    /// <summary>The learner, or null before the first model was installed.</summary>
    public ContinualLearner? Learner => Volatile.Read(ref _learner);

    public bool HasModel => Learner is not null;

    /// <summary>True while a training run is in progress.</summary>
    public bool IsTraining => _training;

    /// <summary>The last thing that went wrong (a refused release, a failed run), for status reports; null when fine.</summary>
    public string? LastError
    {
        get => _lastError;
        set
        {
            _lastError = value;
            StateChanged?.Invoke();
        }
    }

    /// <summary>The most recent served prediction (what the label button confirms).</summary>
    public Prediction? LastPrediction => Volatile.Read(ref _lastPrediction);

    /// <summary>Raised (on the training thread) after a promotion was checkpointed.</summary>
    public event Action<PromotedEventArgs>? Promoted;

    /// <summary>Raised after a new global release became base and champion.</summary>
    public event Action<ModelBundle>? Rebased;

    /// <summary>Raised when something status-worthy changed (training started/stopped, pause, errors, model).</summary>
    public event Action? StateChanged;

    /// <summary>Opens the learner when the model store already holds a champion or an initial bundle is configured.</summary>
    public async Task OpenAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Options.DataDirectory);
        // The learner keeps a CURRENT pointer in its store once it has a champion.
        var hasCheckpoint = File.Exists(Path.Combine(Options.ModelStoreDirectory, ContinualLearning.Learning.CheckpointStore.PointerFileName));
        if (!hasCheckpoint && Options.InitialBundle is null)
        {
            _logger.LogWarning("No model installed in {Store} and no --bundle given: serving is unavailable until a signed release for model {Model} (cohort {Cohort}) arrives.",
                Options.ModelStoreDirectory, Options.ModelName, Options.Cohort);
            return;
        }
        await OpenLearnerAsync(Options.InitialBundle, cancellationToken);
    }

    /// <summary>Installs a verified global release: the first model opens the learner, later ones rebase it.</summary>
    public async Task InstallAsync(string bundleDirectory, CancellationToken cancellationToken = default)
    {
        await _install.WaitAsync(cancellationToken);
        try
        {
            var bundle = ModelBundle.Load(bundleDirectory);
            if (bundle.Manifest.Name != Options.ModelName)
                throw new InvalidDataException($"The bundle in '{bundleDirectory}' is model '{bundle.Manifest.Name}', but this device serves '{Options.ModelName}' (config key modelName).");
            if (Learner is { } learner)
            {
                await learner.RebaseAsync(bundle, cancellationToken);
            }
            else
            {
                await OpenLearnerAsync(bundleDirectory, cancellationToken);
            }
            Metrics.CountReleaseApplied();
            LastError = null;
            Rebased?.Invoke(bundle);
            _logger.LogInformation("Installed global model {Model} v{Version}; now serving it.", bundle.Manifest.Name, bundle.Manifest.Version);
        }
        finally
        {
            _install.Release();
        }
    }

    public Prediction Predict(ReadOnlySpan<float> features)
    {
        var prediction = RequireLearner().Predict(features);
        return Served(prediction);
    }

    public Prediction Predict(IReadOnlyDictionary<string, float> features)
    {
        var prediction = RequireLearner().Predict(features);
        return Served(prediction);
    }

    public void Label(long sampleId, string label)
    {
        RequireLearner().Label(sampleId, label);
        Labelled();
    }

    public void Label(long sampleId, int labelIndex)
    {
        RequireLearner().Label(sampleId, labelIndex);
        Labelled();
    }

    public long AddLabelled(ReadOnlySpan<float> features, string label)
    {
        var id = RequireLearner().AddLabelled(features, label);
        Metrics.CountPrediction();
        Labelled();
        return id;
    }

    /// <summary>Confirms the last prediction as its own label (the label button). False when there is none.</summary>
    public bool ConfirmLastPrediction()
    {
        var last = Interlocked.Exchange(ref _lastPrediction, null);
        if (last is null || last.LabelIndex < 0) return false;
        try
        {
            Label(last.SampleId, last.LabelIndex);
            _logger.LogInformation("Button: confirmed sample {SampleId} as {Label}.", last.SampleId, last.LabelName);
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or KeyNotFoundException or ContinualLearning.Storage.SampleRejectedException)
        {
            _logger.LogWarning("Button: could not label sample {SampleId}: {Reason}", last.SampleId, ex.Message);
            return false;
        }
    }

    /// <summary>Runs a training round now (fleet command or test); null when there were too few samples or learning is paused.</summary>
    public Task<TrainingRunResult?> TrainNowAsync(string reason, CancellationToken cancellationToken = default) =>
        TrainAsync(l => l.TrainNowAsync(reason, cancellationToken));

    /// <summary>
    /// Checks the trigger policy every <see cref="DeviceOptions.TrainCheckInterval"/> and after labels, until
    /// <paramref name="stop"/>. A run in progress when <paramref name="stop"/> fires gets
    /// <see cref="DeviceOptions.ShutdownTimeout"/> to finish, then is cancelled (the learner discards the challenger).
    /// </summary>
    public async Task RunTrainingLoopAsync(CancellationToken stop)
    {
        using var training = new CancellationTokenSource();
        using var registration = stop.Register(() =>
        {
            if (_training) _logger.LogInformation("Stopping: giving the training run up to {Timeout} s to finish.", Options.ShutdownTimeout.TotalSeconds);
            training.CancelAfter(Options.ShutdownTimeout);
        });
        while (!stop.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _loopHeartbeatTicks, _time.GetUtcNow().UtcTicks);
            try
            {
                await _wake.WaitAsync(Options.TrainCheckInterval, _time, stop);
                if (stop.IsCancellationRequested) break;
                await TrainAsync(l => l.MaybeTrainAsync(training.Token));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested || training.IsCancellationRequested)
            {
                if (training.IsCancellationRequested) _logger.LogWarning("Training run cancelled at shutdown after {Timeout} s; the challenger was discarded, the champion is unchanged.", Options.ShutdownTimeout.TotalSeconds);
                break;
            }
            catch (OperationCanceledException)
            {
                // The learner cancels its own run when a release is installed, learning is paused or data is wiped:
                // expected, not an error; its samples go back to the store for the next run.
                _logger.LogInformation("Training run cancelled by the learner (new release, pause or wipe); the champion is unchanged.");
            }
            catch (Exception ex)
            {
                LastError = $"training failed: {ex.Message}";
                _logger.LogError(ex, "Training run failed; will retry at the next trigger.");
            }
        }
    }

    /// <summary>
    /// Why the daemon should be considered hung, or null when it is alive: the trigger loop has not come round for
    /// <paramref name="allowedSilence"/> (and no training run, which may legitimately take longer, is in progress).
    /// The systemd watchdog stops pinging while this is non-null, so systemd restarts the daemon.
    /// </summary>
    public string? Unresponsive(TimeSpan allowedSilence)
    {
        if (_training) return null;
        var silent = _time.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref _loopHeartbeatTicks), TimeSpan.Zero);
        return silent > allowedSilence
            ? $"the trigger loop has not run for {silent.TotalSeconds:0} s (it checks every {Options.TrainCheckInterval.TotalSeconds:0} s)"
            : null;
    }

    /// <summary>The gauges for <c>/metrics</c>.</summary>
    public MetricGauges Gauges(int queueDepth, long queueBytes, bool connected)
    {
        var status = Learner?.Status;
        return new MetricGauges(queueDepth, queueBytes, status?.ModelName, status?.ModelVersion, status?.Engine ?? Engine.Name, status?.WindowedAccuracy, status?.Paused ?? false, connected,
            status?.StoredSamples ?? 0, status?.ReplaySize ?? 0);
    }

    public async ValueTask DisposeAsync()
    {
        var learner = Interlocked.Exchange(ref _learner, null);
        if (learner is not null) await learner.DisposeAsync();
        _install.Dispose();
        _wake.Dispose();
    }

    private async Task<TrainingRunResult?> TrainAsync(Func<ContinualLearner, Task<TrainingRunResult?>> run)
    {
        var learner = Learner;
        if (learner is null) return null;
        _training = true;
        StateChanged?.Invoke();
        try
        {
            var started = _time.GetTimestamp();
            var result = await run(learner);
            if (result is not null)
            {
                var took = _time.GetElapsedTime(started);
                Metrics.CountTrainingRun(took);
                _logger.LogInformation("Training run ({Reason}) in {Seconds:0.00} s: champion {Champion:0.000} vs challenger {Challenger:0.000} on {Holdout} held-out samples → {Outcome}.",
                    result.Decision.TriggerReason, took.TotalSeconds, result.Decision.ChampionMetric, result.Decision.ChallengerMetric, result.Decision.HoldoutSamples,
                    result.Promoted ? $"promoted as {result.Decision.NewVersion}" : "kept the champion");
            }
            return result;
        }
        finally
        {
            _training = false;
            StateChanged?.Invoke();
        }
    }

    private async Task OpenLearnerAsync(string? bundleDirectory, CancellationToken cancellationToken)
    {
        var options = Options.ToLearnerOptions() with { BaseBundlePath = bundleDirectory };
        var learner = await ContinualLearner.OpenAsync(options, Engine, _time, _loggerFactory.CreateLogger<ContinualLearner>(), cancellationToken);
        learner.Promoted += (_, e) =>
        {
            Metrics.CountPromotion();
            Promoted?.Invoke(e);
            StateChanged?.Invoke();
        };
        learner.DriftDetected += (_, e) =>
        {
            Metrics.CountDriftAlarm();
            _logger.LogWarning("Drift detected by {Source} (windowed accuracy {Accuracy:0.000}).", e.Source, e.WindowedAccuracy);
            _wake.Release();
        };
        Volatile.Write(ref _learner, learner);
        _logger.LogInformation("Model {Model} v{Version} loaded (base {Base}, engine {Engine}).", learner.Status.ModelName, learner.ModelVersion, learner.Status.BaseVersion, Engine.Name);
        StateChanged?.Invoke();
    }

    private ContinualLearner RequireLearner() => Learner ?? throw new NoModelException();

    private Prediction Served(Prediction prediction)
    {
        Metrics.CountPrediction();
        Volatile.Write(ref _lastPrediction, prediction);
        return prediction;
    }

    private void Labelled()
    {
        Metrics.CountLabel();
        // Let the loop check the trigger policy soon; a burst of labels coalesces into one wake-up.
        if (_wake.CurrentCount == 0) _wake.Release();
    }
}
