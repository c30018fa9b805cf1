using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// Installs signed releases for the device's cohort: reads the retained release, verifies its signature against the
/// fleet key before fetching anything, follows the signed release sequence (<see cref="Release.Sequence"/>: a release
/// above the last one accepted is installed even when its version is older — a rollback — and one at or below it is a
/// replay and is refused; the last sequence survives restarts in <see cref="ReleaseSequence"/>), fetches it (<see cref="ReleaseFetch"/>:
/// resumable, per-chunk and bundle SHA-256) into its directory under <c>releases/</c> and hands it to <see cref="DeviceRuntime.InstallAsync(string, string, CancellationToken)"/>.
/// Installs and refusals are counted; every refusal is also kept as <see cref="LastRejection"/> and raised as <see cref="Rejected"/>.
/// Under concept-aware aggregation the model it installs is the device's assigned cluster model
/// (<see cref="ServingModel"/>, switched by <see cref="ClusterFollower"/>); sequences are kept per model name.
/// </summary>
internal sealed partial class ReleaseInstaller(DeviceRuntime runtime, ECDsa fleetKey, RuntimeSettings settings, IFleetConnection connection, ILogger logger)
    : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private ReleaseFetch? _fetch;
    private readonly ReleaseSequence _sequence = new(runtime.Options.ReleaseSequencePath, runtime.Options.ModelName);
    private volatile string _servingModel = InitialModel(runtime);

    /// <summary>The sequence of the last release of the device's model accepted (installed, or already running); 0 before any.</summary>
    public long AcceptedSequence => _sequence.Last;

    /// <summary>The release sequences accepted, per model name (shared with <see cref="ClusterHeadFetcher"/>).</summary>
    public ReleaseSequence Sequences => _sequence;

    /// <summary>The model whose releases are installed: the configured model, or the assigned cluster's model.</summary>
    public string ServingModel => _servingModel;

    private string ReleaseTopic => FleetTopics.Release(runtime.Options.Fleet, _servingModel);

    /// <summary>The last release refused, with the reason; null once a release was installed.</summary>
    public string? LastRejection { get; private set; }

    /// <summary>Raised after a release was refused; the argument says why.</summary>
    public event Action<string>? Rejected;

    /// <summary>Subscribes to the model's retained release topic.</summary>
    public Task SubscribeAsync(CancellationToken cancellationToken) => connection.SubscribeAsync(ReleaseTopic, cancellationToken);

    /// <summary>Reads the retained release again (the cohort changed: it may be for the new one).</summary>
    public async Task ReconsiderAsync(CancellationToken cancellationToken)
    {
        await connection.UnsubscribeAsync(ReleaseTopic, cancellationToken).ConfigureAwait(false);
        await connection.SubscribeAsync(ReleaseTopic, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A message on the release topic: verifies it and starts fetching its chunks when it is for this device.</summary>
    public async Task OnReleaseAsync(FleetMessage message, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(message);
        var model = _servingModel;
        var decision = new ReleaseAcceptance(model, fleetKey).Judge(message.Topic, message.Payload, settings.Cohort, _sequence.LastOf(model));
        // Back to a cluster model served before: its release was accepted then, but another model runs now.
        if (decision.Verdict == ReleaseVerdict.AlreadyAccepted && runtime.Options.Clustering && !IsRunning(decision.Release!))
            decision = decision with { Verdict = ReleaseVerdict.Fetch };
        if (!Act(decision)) return;
        var release = decision.Release!;
        var sequence = decision.Sequence;
        await _lock.WaitAsync(stop).ConfigureAwait(false);
        try
        {
            if (release.ModelName != _servingModel) return; // switched to another cluster meanwhile
            var fetching = _fetch is { } current && current.Release.ModelName == release.ModelName ? current.Release.Sequence : null;
            var running = runtime.Learner?.Status is { } status && status.ModelName == release.ModelName ? status.BaseVersion : null;
            decision = ReleaseAcceptance.WhileFetching(release, fetching, running);
            if (decision.Verdict == ReleaseVerdict.AlreadyRunning)
            {
                _sequence.Accept(release.ModelName, sequence);
                LogAlreadyRunning(logger, release.Version, sequence);
                return;
            }
            if (!Act(decision)) return;
            ReleaseFetch fetch;
            try
            {
                fetch = ReleaseFetch.Open(release, fleetKey, Path.Combine(runtime.Options.ReleasesDirectory, ReleaseDirectoryRetention.IncomingDirectoryName, DirectoryName(release)),
                    connection, runtime.Options.Fleet);
            }
            catch (BundleVerificationException ex)
            {
                Refuse(ex.Message);
                return;
            }
            if (_fetch is not null) await _fetch.UnsubscribeAsync(stop).ConfigureAwait(false);
            _fetch = fetch;
            LogFetching(logger, release.ModelName, release.Version, release.Cohort, release.ChunkCount, fetch.ResumedCount);
            if (fetch.IsComplete) _ = Task.Run(() => InstallAsync(fetch, stop), CancellationToken.None);
            else await fetch.SubscribeAsync(stop).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>A chunk of the release being fetched; installs the bundle once the last one arrived.</summary>
    public async Task OnChunkAsync(FleetMessage message, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(message);
        var fetch = _fetch;
        if (fetch is null || fetch.IsComplete) return;
        var result = fetch.Accept(message.Payload);
        if (result.Status == ChunkStatus.Unreadable)
        {
            LogChunkUnreadable(logger, message.Topic, result.Reason);
            return;
        }
        if (result.Status == ChunkStatus.Rejected)
        {
            Refuse($"release {fetch.Release.ModelName} v{fetch.Release.Version}: {result.Reason}");
            return;
        }
        if (result.Status == ChunkStatus.Accepted && fetch.IsComplete)
            await InstallAsync(fetch, stop).ConfigureAwait(false);
    }

    /// <summary>
    /// Makes <paramref name="model"/> (a cluster model of the device's model) the one installed from now on: a download
    /// of another model's release in progress is abandoned (its chunks stay on disk for a later resume). The caller
    /// resubscribes the release topics so the new model's retained release arrives.
    /// </summary>
    public async Task SwitchAsync(string model, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (model == _servingModel) return;
            if (_fetch is not null) await _fetch.UnsubscribeAsync(cancellationToken).ConfigureAwait(false);
            _fetch = null;
            LogSwitched(logger, _servingModel, model);
            _servingModel = model;
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _lock.Dispose();

    /// <summary>
    /// A release's directory name under releases/ (and releases/incoming/): its version for the device's model, as
    /// without clustering; <c>{model}-{version}</c> for a cluster model, whose versions may equal the base model's.
    /// </summary>
    internal static string DirectoryName(Release release, string baseModel) =>
        release.ModelName == baseModel ? release.Version : $"{release.ModelName}-{release.Version}";

    private string DirectoryName(Release release) => DirectoryName(release, runtime.Options.ModelName);

    private bool IsRunning(Release release) =>
        runtime.Learner?.Status is { } status && status.ModelName == release.ModelName && status.BaseVersion == release.Version;

    // After a restart under clustering the learner serves the cluster model it installed last.
    private static string InitialModel(DeviceRuntime runtime)
    {
        var configured = runtime.Options.ModelName;
        if (!runtime.Options.Clustering || runtime.Learner?.Status.ModelName is not { } running) return configured;
        return ContinualLearning.Deltas.ClusterNames.Parse(running).BaseModel == configured ? running : configured;
    }

    /// <summary>A release addressed to <c>all</c> or to exactly this device's cohort.</summary>
    internal static bool IsForCohort(string releaseCohort, string deviceCohort) => ReleaseAcceptance.IsForCohort(releaseCohort, deviceCohort);

    /// <summary>Logs or refuses what a decision says; true when the release is to be fetched.</summary>
    private bool Act(ReleaseDecision decision)
    {
        switch (decision.Verdict)
        {
            case ReleaseVerdict.Fetch:
                return true;
            case ReleaseVerdict.OtherCohort:
                LogOtherCohort(logger, decision.Release!.ModelName, decision.Release.Version, decision.Release.Cohort, settings.Cohort);
                return false;
            case ReleaseVerdict.AlreadyAccepted:
                // The retained release comes again after every reconnect: only a lower sequence is a replay.
                LogAlreadyAccepted(logger, decision.Release!.Version, decision.Sequence);
                return false;
            case ReleaseVerdict.Refuse:
                Refuse(decision.Reason!);
                return false;
            default:
                return false;
        }
    }


    private async Task InstallAsync(ReleaseFetch fetch, CancellationToken stop)
    {
        var release = fetch.Release;
        var target = Path.Combine(runtime.Options.ReleasesDirectory, DirectoryName(release));
        try
        {
            if (!fetch.TryExtract(target)) return; // a chunk on disk went bad; it is re-requested by staying subscribed
            await runtime.InstallAsync(target, release.ModelName, stop).ConfigureAwait(false);
            if (release.Sequence is { } sequence) _sequence.Accept(release.ModelName, sequence);
            runtime.Metrics.CountReleaseApplied();
            await fetch.CloseAsync(CancellationToken.None).ConfigureAwait(false);
            ReleaseDirectoryRetention.Prune(runtime, DirectoryName(release), fetching: _fetch is { } next && next != fetch ? DirectoryName(next.Release) : null, logger);
            LastRejection = null;
        }
        catch (Exception ex) when (ex is BundleVerificationException or InvalidDataException or IOException or BundleException or ArgumentException)
        {
            await fetch.CloseAsync(CancellationToken.None).ConfigureAwait(false);
            if (_fetch == fetch) _fetch = null;
            Refuse($"release {release.ModelName} v{release.Version} could not be installed: {ex.Message}");
        }
    }

    private void Refuse(string reason)
    {
        LastRejection = reason;
        runtime.Metrics.CountReleaseRejected();
        runtime.LastError = reason;
        LogRefused(logger, reason);
        Rejected?.Invoke(reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Release {Model} v{Version} is for cohort {ReleaseCohort}; this device is in {Cohort}: not installing.")]
    private static partial void LogOtherCohort(ILogger logger, string model, string version, string releaseCohort, string cohort);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Release {Version} (sequence {Sequence}) was already accepted; ignoring the redelivery.")]
    private static partial void LogAlreadyAccepted(ILogger logger, string version, long sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Release {Version} (sequence {Sequence}) is the version already running; accepted without a download.")]
    private static partial void LogAlreadyRunning(ILogger logger, string version, long sequence);

    [LoggerMessage(Level = LogLevel.Information, Message = "Release {Model} v{Version} (cohort {Cohort}) verified; fetching {Count} chunks ({Resumed} already on disk).")]
    private static partial void LogFetching(ILogger logger, string model, string version, string cohort, int count, int resumed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Chunk on {Topic} refused: {Reason}")]
    private static partial void LogChunkUnreadable(ILogger logger, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster assignment: installing releases of {Model} instead of {Previous}.")]
    private static partial void LogSwitched(ILogger logger, string previous, string model);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Release refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}
