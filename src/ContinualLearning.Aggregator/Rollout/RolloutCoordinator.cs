using System.Text.Json;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Text;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>
/// Takes a candidate to the fleet: canary first (or straight to all when there is no canary stage), then promotes or
/// rolls back on the <see cref="RolloutPolicy"/> verdict. Everything it decides is in the registry, so any instance can
/// carry on a rollout another started: each decision moves the version's status by compare-and-set, records the
/// decision, the canary (<see cref="CanaryStore"/>) and the release to publish in one transaction under the model lock,
/// so with several instances only one acts, and a version gets one verdict. Putting the release on the wire is a
/// separate step (<see cref="PublishPendingAsync"/>) that every tick of every instance retries until it is done, so a
/// crash between the decision and the publish loses nothing. Callers serialise <see cref="StartAsync"/>,
/// <see cref="CheckAsync"/> and <see cref="ResumeAsync"/>; <see cref="Report"/> may come from any thread.
/// </summary>
internal sealed partial class RolloutCoordinator(
    ModelRegistry registry, AggregatorOptions options, IReleaseChannel channel, Journal journal, TimeProvider time, ILogger logger,
    Action<string, DecisionKind> decided)
{
    // Ignored reports are tallied by the watch; only the first few per canary are logged, so a flood of forged
    // telemetry cannot flood the log too.
    private const int LoggedIgnoredReports = 20;
    private const int LoggedIdLength = 64;
    private readonly HashSet<string> _toldCanary = new(StringComparer.Ordinal);
    private readonly KnownDevices _known = new(registry, options);
    private volatile CanaryWatch? _watch;
    private int _loggedIgnored;

    /// <summary>The canary this instance watches, or null.</summary>
    public CanaryWatch? Canary => _watch;

    /// <summary>Counts a telemetry accuracy report for the running canary, if any; out-of-range reports and reports of unknown devices are tallied and ignored.</summary>
    public void Report(AccuracyReport report)
    {
        var outcome = _watch?.Add(report);
        if (outcome is ReportOutcome.OutOfRange or ReportOutcome.UnknownDevice && Interlocked.Increment(ref _loggedIgnored) <= LoggedIgnoredReports)
        {
            var id = DisplayText.Truncate(report.DeviceId, LoggedIdLength);
            // An accuracy outside [0, 1] is forged or broken: a warning. A device the registry does not know yet is normal
            // in an honest fleet (it has sent no delta so far), so it is only visible at debug level.
            LogIgnoredReport(logger, outcome == ReportOutcome.OutOfRange ? LogLevel.Warning : LogLevel.Debug, id, report.Accuracy, outcome.Value);
        }
    }

    /// <summary>Publishes a candidate: to the canary cohort chosen among <paramref name="onlineDevices"/>, or to all when there is none.</summary>
    public async Task StartAsync(ModelVersionRecord candidate, IEnumerable<string> onlineDevices, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var name = candidate.Name;
        // Online comes from retained status, which anyone on the broker can write: only known devices may judge a version.
        var canary = options.Rollout.Canary ? CohortAssigner.Canary(onlineDevices.Where(_known.IsKnown), options.Rollout) : [];
        if (canary.Count == 0)
        {
            var why = options.Rollout.Canary ? "no online canary device known; released to all" : "canary disabled; released to all";
            if (!Commit(candidate.Version, VersionStatus.Candidate, VersionStatus.Released, DecisionKind.Released, why, "{}", candidate.Version, Cohorts.All)) return;
            LogReleased(logger, name, candidate.Version, why);
            decided(candidate.Version, DecisionKind.Released);
            await PublishPendingAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        var control = registry.Latest(name, VersionStatus.Released)!;
        var record = new CanaryRecord(name, candidate.Version, control.Version, time.GetUtcNow(), canary);
        if (!Commit(candidate.Version, VersionStatus.Candidate, VersionStatus.Canary, DecisionKind.CanaryStarted,
                $"canary cohort of {canary.Count} devices vs control on {control.Version}", JsonSerializer.Serialize(canary.ToArray(), AggregatorJson.Default.StringArray),
                candidate.Version, Cohorts.Canary, () => registry.Canaries.Start(record)))
            return;
        _watch = Watch(record);
        LogCanary(logger, name, candidate.Version, canary.Count, canary);
        decided(candidate.Version, DecisionKind.CanaryStarted);
        await PublishPendingAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One tick: everything <see cref="ResumeAsync"/> does, then evaluates the canary and acts on the verdict. Wait when
    /// undecided, null when no canary runs (or another instance decided it).
    /// </summary>
    public async Task<RolloutDecision?> CheckAsync(IEnumerable<string> onlineDevices, CancellationToken cancellationToken)
    {
        await ResumeAsync(onlineDevices, cancellationToken).ConfigureAwait(false);
        var watch = _watch;
        if (watch is null) return null;
        var name = options.ModelName;
        var current = registry.GetVersion(name, watch.CandidateVersion);
        if (current?.Status != VersionStatus.Canary)
        {
            _watch = null; // another instance decided
            return null;
        }
        var decision = watch.Decide(options.Rollout, time.GetUtcNow());
        if (decision.Verdict == RolloutVerdict.Wait)
        {
            // Another instance may have decided between the status read above and Decide, closing the canary's reports
            // (so they read as none): that is "decided elsewhere", not a canary still waiting.
            if (registry.GetVersion(name, watch.CandidateVersion)?.Status == VersionStatus.Canary) return decision;
            _watch = null;
            return null;
        }
        var promote = decision.Verdict == RolloutVerdict.Promote;
        var kind = promote ? DecisionKind.Promoted : DecisionKind.RolledBack;
        // A rollback puts the previous release out again for everyone with a new, higher release sequence: canary devices
        // install it although its version is older than theirs, and the others accept it as the one they already run.
        var release = promote ? current.Version : watch.ControlVersion;
        var now = time.GetUtcNow();
        if (Commit(current.Version, VersionStatus.Canary, promote ? VersionStatus.Released : VersionStatus.RolledBack, kind, decision.Reason, decision.ToJson(),
                release, Cohorts.All, () => registry.Canaries.Close(name, current.Version, now)))
        {
            if (promote) LogPromoted(logger, name, current.Version, decision.Reason);
            else LogRolledBack(logger, name, current.Version, watch.ControlVersion, decision.Reason);
            decided(current.Version, kind);
        }
        _watch = null;
        await PublishPendingAsync(cancellationToken).ConfigureAwait(false);
        return decision;
    }

    /// <summary>
    /// Picks up whatever the registry says is under way, whichever instance began it: publishes releases decided but not
    /// yet on the wire, adopts a running canary this instance does not watch yet, and starts the rollout of a candidate
    /// its instance left behind (it crashed between the aggregation and the start; aggregation waits for it).
    /// </summary>
    public async Task ResumeAsync(IEnumerable<string> onlineDevices, CancellationToken cancellationToken)
    {
        await PublishPendingAsync(cancellationToken).ConfigureAwait(false);
        if (_watch is not null) return;
        var name = options.ModelName;
        if (registry.Latest(name, VersionStatus.Canary) is { } canary)
        {
            var record = Adopt(canary);
            _watch = Watch(record);
            LogResumed(logger, name, canary.Version, record.Devices.Count);
        }
        else if (registry.Latest(name, VersionStatus.Candidate) is { } candidate && candidate.Seq > registry.Latest(name, VersionStatus.Released)!.Seq)
        {
            await StartAsync(candidate, onlineDevices, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Puts every release the registry allocated but nobody published yet on the wire, oldest first, and marks each
    /// published. Publishing again is harmless (a device ignores a release with the sequence it already accepted), so
    /// instances may race here; the retained release must end up the highest, so when another instance published a
    /// higher one meanwhile, it goes out again after ours. A failure (broker unreachable) is logged and left to the next
    /// tick: the decision behind the release is committed, only its delivery waits. False when something is still unsent.
    /// </summary>
    public async Task<bool> PublishPendingAsync(CancellationToken cancellationToken)
    {
        var name = options.ModelName;
        long sent = 0;
        try
        {
            foreach (var release in registry.Releases.Unsent(name))
            {
                await PublishAsync(release, cancellationToken).ConfigureAwait(false);
                sent = release.Sequence;
            }
            if (sent > 0 && registry.Releases.Highest(name) > sent)
                await PublishAsync(registry.Releases.List(name)[^1], cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogPublishFailed(logger, name, ex);
            return false;
        }
    }

    private async Task PublishAsync((long Sequence, string Version, string Cohort) release, CancellationToken cancellationToken)
    {
        var name = options.ModelName;
        var version = registry.GetVersion(name, release.Version)!;
        if (release.Cohort == Cohorts.Canary)
        {
            // Canary devices learn their cohort before the release arrives, or they would ignore it as another cohort's.
            foreach (var device in registry.Canaries.Get(name, release.Version)?.Devices ?? [])
            {
                if (_toldCanary.Contains(device)) continue;
                await channel.SetCohortAsync(device, Cohorts.Canary, cancellationToken).ConfigureAwait(false);
                _toldCanary.Add(device);
            }
        }
        await channel.PublishAsync(registry.Artifacts.Read(version.ArtifactSha256), name, version.Version, version.Parent, release.Cohort, release.Sequence, cancellationToken)
            .ConfigureAwait(false);
        registry.Releases.MarkSent(name, release.Sequence);
        LogPublished(logger, name, version.Version, release.Cohort, release.Sequence);
    }

    /// <summary>
    /// In one transaction under the model lock: moves <paramref name="version"/> from <paramref name="from"/> to
    /// <paramref name="to"/>, records the decision and <paramref name="alsoRecord"/>, and allocates the release of
    /// <paramref name="releaseVersion"/> to <paramref name="cohort"/>. False, with nothing written, when the version was
    /// no longer <paramref name="from"/> (another instance decided first).
    /// </summary>
    private bool Commit(string version, string from, string to, DecisionKind kind, string reason, string numbersJson, string releaseVersion, string cohort, Action? alsoRecord = null)
    {
        var name = options.ModelName;
        return registry.WithModelLock(name, () =>
        {
            if (!registry.TryTransition(name, version, from, to)) return false;
            journal.Decide(name, version, kind, reason, numbersJson);
            alsoRecord?.Invoke();
            registry.Releases.Allocate(name, releaseVersion, cohort);
            return true;
        });
    }

    /// <summary>The stored canary of a version on canary; one started before canaries were stored is rebuilt from its canary-started decision.</summary>
    private CanaryRecord Adopt(ModelVersionRecord canary)
    {
        var name = canary.Name;
        if (registry.Canaries.Get(name, canary.Version) is { } stored) return stored;
        var started = registry.Decisions.List(name, canary.Version).LastOrDefault(d => d.Decision == DecisionKind.CanaryStarted);
        var devices = started is null ? [] : JsonSerializer.Deserialize(started.NumbersJson, AggregatorJson.Default.StringArray) ?? [];
        registry.Canaries.Start(new CanaryRecord(name, canary.Version, registry.Latest(name, VersionStatus.Released)!.Version, started?.At ?? time.GetUtcNow(), devices));
        return registry.Canaries.Get(name, canary.Version)!;
    }

    private CanaryWatch Watch(CanaryRecord canary)
    {
        Interlocked.Exchange(ref _loggedIgnored, 0);
        return new CanaryWatch(registry.Canaries, canary, options.InstanceId, _known.IsKnown);
    }

    [LoggerMessage(EventId = 305, Message = "Ignoring a canary accuracy report from {Device} (accuracy {Accuracy}): {Outcome}")]
    private static partial void LogIgnoredReport(ILogger logger, LogLevel level, string device, double accuracy, ReportOutcome outcome);

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Released {Model} {Version} to all ({Why})")]
    private static partial void LogReleased(ILogger logger, string model, string version, string why);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Canary {Model} {Version} to {Count} devices: {Devices}")]
    private static partial void LogCanary(ILogger logger, string model, string version, int count, IReadOnlyList<string> devices);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Promoted {Model} {Version} to all: {Reason}")]
    private static partial void LogPromoted(ILogger logger, string model, string version, string reason);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Rolled back {Model} {Version} (back to {Previous}): {Reason}")]
    private static partial void LogRolledBack(ILogger logger, string model, string version, string previous, string reason);

    [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "Watching the canary of {Model} {Version} ({Count} devices), started earlier")]
    private static partial void LogResumed(ILogger logger, string model, string version, int count);

    [LoggerMessage(EventId = 307, Level = LogLevel.Warning, Message = "Publishing the decided releases of {Model} failed; the next tick retries")]
    private static partial void LogPublishFailed(ILogger logger, string model, Exception exception);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "Published release {Model} {Version} to cohort {Cohort} (release sequence {Sequence})")]
    private static partial void LogPublished(ILogger logger, string model, string version, string cohort, long sequence);
}
