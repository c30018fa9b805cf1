using ContinualLearning.Bundle;
using ContinualLearning.Device.Agent;
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
/// it owns the <see cref="ContinualLearner"/> (absent until a first model arrives) and the device's
/// <see cref="DeviceMetrics"/> (observed from the learner's counters), remembers the last prediction (for the label button) and runs the trigger-policy loop.
/// A new global release replaces the learner's base through <see cref="InstallAsync(string, CancellationToken)"/>.
/// </summary>
public sealed partial class DeviceRuntime : IAsyncDisposable
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
    private volatile Func<RunScoring, IReadOnlyDictionary<string, double>?>? _runScorer;

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
        Metrics = new DeviceMetrics(() => Learner);
    }

    public DeviceOptions Options { get; }

    public ITrainingEngine Engine { get; }

    /// <summary>The device's meter: the learner's counts, the agent's and the HTTP API's, and the gauges.</summary>
    public DeviceMetrics Metrics { get; }

    /// <summary>The learner, or null before the first model was installed.</summary>
    public ContinualLearner? Learner => Volatile.Read(ref _learner);

    public bool HasModel => Learner is not null;

    /// <summary>What the installed model reads (JSON features, or WAV clips and their format); null before the first model.</summary>
    internal ModelInput? Input => Learner is { } learner ? ModelInput.Of(learner) : null;

    /// <summary>
    /// Measures models on each run's fresh samples before it trains (concept-aware aggregation's cluster report, see
    /// <see cref="ContinualLearner.RunScorer"/>); applied to the learner now and to every learner opened later.
    /// </summary>
    public Func<RunScoring, IReadOnlyDictionary<string, double>?>? RunScorer
    {
        get => _runScorer;
        set
        {
            _runScorer = value;
            if (Learner is { } learner) learner.RunScorer = value;
        }
    }

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

    /// <summary>The base version the last <see cref="InstallAsync(string, CancellationToken)"/> replaced (its release directory is the rollback target); null before a second model.</summary>
    public string? ReplacedBaseVersion { get; private set; }

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
        ReleaseDirectoryRetention.SweepTemporary(Options.ReleasesDirectory, _logger);
        // The learner keeps a CURRENT pointer in its store once it has a champion.
        var hasCheckpoint = File.Exists(Path.Combine(Options.ModelStoreDirectory, ContinualLearning.Learning.CheckpointStore.PointerFileName));
        if (!hasCheckpoint && Options.InitialBundle is null)
        {
            LogNoModel(_logger, Options.ModelStoreDirectory, Options.ModelName, Options.Cohort);
            return;
        }
        await OpenLearnerAsync(Options.InitialBundle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Installs a verified global release: the first model opens the learner, later ones rebase it.</summary>
    public Task InstallAsync(string bundleDirectory, CancellationToken cancellationToken = default) =>
        InstallAsync(bundleDirectory, Options.ModelName, cancellationToken);

    /// <summary>
    /// Installs a verified release of <paramref name="modelName"/>: the configured model, or under concept-aware
    /// aggregation one of its cluster models (<see cref="ContinualLearning.Deltas.ClusterNames"/>), whose bundle must
    /// carry that name so the deltas trained from it name it too.
    /// </summary>
    public async Task InstallAsync(string bundleDirectory, string modelName, CancellationToken cancellationToken = default)
    {
        if (modelName != Options.ModelName && (!Options.Clustering || ContinualLearning.Deltas.ClusterNames.Parse(modelName).BaseModel != Options.ModelName))
            throw new InvalidDataException($"Model '{modelName}' is not '{Options.ModelName}' (config key modelName){(Options.Clustering ? " nor one of its cluster models" : "")}; not installing it.");
        await _install.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var bundle = ModelBundle.Load(bundleDirectory);
            if (bundle.Manifest.Name != modelName)
                throw new InvalidDataException(modelName == Options.ModelName
                    ? $"The bundle in '{bundleDirectory}' is model '{bundle.Manifest.Name}', but this device serves '{Options.ModelName}' (config key modelName)."
                    : $"The bundle in '{bundleDirectory}' is model '{bundle.Manifest.Name}', but its release is of cluster model '{modelName}'.");
            if (Learner is { } learner)
            {
                var replaced = learner.Status.BaseVersion;
                await learner.RebaseAsync(bundle, cancellationToken).ConfigureAwait(false);
                ReplacedBaseVersion = replaced;
                CheckClipCap(learner);
            }
            else
            {
                await OpenLearnerAsync(bundleDirectory, cancellationToken).ConfigureAwait(false);
            }
            LastError = null;
            Rebased?.Invoke(bundle);
            LogInstalled(_logger, bundle.Manifest.Name, bundle.Manifest.Version);
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
            LogButtonConfirmed(_logger, last.SampleId, last.LabelName);
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or KeyNotFoundException or ContinualLearning.Storage.SampleRejectedException)
        {
            LogButtonFailed(_logger, last.SampleId, ex.Message);
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
            if (_training) LogStopping(_logger, Options.ShutdownTimeout.TotalSeconds);
            training.CancelAfter(Options.ShutdownTimeout);
        });
        while (!stop.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _loopHeartbeatTicks, _time.GetUtcNow().UtcTicks);
            try
            {
                await _wake.WaitAsync(Options.TrainCheckInterval, _time, stop).ConfigureAwait(false);
                if (stop.IsCancellationRequested) break;
                await TrainAsync(l => l.MaybeTrainAsync(training.Token)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested || training.IsCancellationRequested)
            {
                if (training.IsCancellationRequested) LogCancelledAtShutdown(_logger, Options.ShutdownTimeout.TotalSeconds);
                break;
            }
            catch (OperationCanceledException)
            {
                // The learner cancels its own run when a release is installed, learning is paused or data is wiped:
                // expected, not an error; its samples go back to the store for the next run.
                LogCancelledByLearner(_logger);
            }
            catch (Exception ex)
            {
                LastError = $"training failed: {ex.Message}";
                LogRunFailed(_logger, ex);
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

    public async ValueTask DisposeAsync()
    {
        var learner = Interlocked.Exchange(ref _learner, null);
        if (learner is not null) await learner.DisposeAsync().ConfigureAwait(false);
        Metrics.Dispose();
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
            var result = await run(learner).ConfigureAwait(false);
            if (result is not null)
            {
                var d = result.Decision;
                var seconds = _time.GetElapsedTime(started).TotalSeconds;
                if (result.Promoted) LogRunPromoted(_logger, d.TriggerReason, seconds, d.ChampionMetric, d.ChallengerMetric, d.HoldoutSamples, d.NewVersion);
                else LogRunKept(_logger, d.TriggerReason, seconds, d.ChampionMetric, d.ChallengerMetric, d.HoldoutSamples);
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
        var learner = await ContinualLearner.OpenAsync(options, Engine, _time, _loggerFactory.CreateLogger<ContinualLearner>(), cancellationToken).ConfigureAwait(false);
        learner.Promoted += (_, e) =>
        {
            Promoted?.Invoke(e);
            StateChanged?.Invoke();
        };
        learner.DriftDetected += (_, e) =>
        {
            LogDrift(_logger, e.Source, e.WindowedAccuracy);
            _wake.Release();
        };
        CheckClipCap(learner);
        learner.RunScorer = _runScorer;
        Volatile.Write(ref _learner, learner);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var status = learner.Status;
            LogLoaded(_logger, status.ModelName, status.ModelVersion, status.BaseVersion, Engine.Name);
        }
        StateChanged?.Invoke();
    }

    private void CheckClipCap(ContinualLearner learner)
    {
        if (learner.AudioInput is not { } audio) return;
        // The body cap is the operator's; a clip the model accepts but the cap refuses would be a 413 nobody expects.
        var needed = ContinualLearning.Audio.WavReader.MaxPayloadBytes(audio);
        if (Options.Limits.SampleMaxBytes < needed)
            LogClipOverCap(_logger, ContinualLearning.Audio.WavReader.DescribeLimit(audio), needed, Options.Limits.SampleMaxBytes);
    }

    private ContinualLearner RequireLearner() => Learner ?? throw new NoModelException();

    private Prediction Served(Prediction prediction)
    {
        Volatile.Write(ref _lastPrediction, prediction);
        return prediction;
    }

    private void Labelled()
    {
        // Let the loop check the trigger policy soon; a burst of labels coalesces into one wake-up.
        if (_wake.CurrentCount == 0) _wake.Release();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The model takes clips of up to {Limit}, a WAV of up to {Needed} bytes, but limits:sampleMaxBytes is {Cap}: longer clips get 413. Set limits:sampleMaxBytes to at least {Needed}.")]
    private static partial void LogClipOverCap(ILogger logger, string limit, int needed, int cap);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No model installed in {Store} and no --bundle given: serving is unavailable until a signed release for model {Model} (cohort {Cohort}) arrives.")]
    private static partial void LogNoModel(ILogger logger, string store, string model, string cohort);

    [LoggerMessage(Level = LogLevel.Information, Message = "Installed global model {Model} v{Version}; now serving it.")]
    private static partial void LogInstalled(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Button: confirmed sample {SampleId} as {Label}.")]
    private static partial void LogButtonConfirmed(ILogger logger, long sampleId, string? label);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Button: could not label sample {SampleId}: {Reason}")]
    private static partial void LogButtonFailed(ILogger logger, long sampleId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: giving the training run up to {Timeout} s to finish.")]
    private static partial void LogStopping(ILogger logger, double timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Training run cancelled at shutdown after {Timeout} s; the challenger was discarded, the champion is unchanged.")]
    private static partial void LogCancelledAtShutdown(ILogger logger, double timeout);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run cancelled by the learner (new release, pause or wipe); the champion is unchanged.")]
    private static partial void LogCancelledByLearner(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Training run failed; will retry at the next trigger.")]
    private static partial void LogRunFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run ({Reason}) in {Seconds:0.00} s: champion {Champion:0.000} vs challenger {Challenger:0.000} on {Holdout} held-out samples → promoted as {Version}.")]
    private static partial void LogRunPromoted(ILogger logger, string reason, double seconds, double champion, double challenger, int holdout, string? version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training run ({Reason}) in {Seconds:0.00} s: champion {Champion:0.000} vs challenger {Challenger:0.000} on {Holdout} held-out samples → kept the champion.")]
    private static partial void LogRunKept(ILogger logger, string reason, double seconds, double champion, double challenger, int holdout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift detected by {Source} (windowed accuracy {Accuracy:0.000}).")]
    private static partial void LogDrift(ILogger logger, string source, double accuracy);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} v{Version} loaded (base {Base}, engine {Engine}).")]
    private static partial void LogLoaded(ILogger logger, string model, string version, string @base, string engine);
}
