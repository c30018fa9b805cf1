using System.Text.Json;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Text;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>
/// Takes a candidate to the fleet: canary first (or straight to all when there is no canary stage), then promotes or
/// rolls back on the <see cref="RolloutPolicy"/> verdict, and after a restart picks up where the registry says it was.
/// Status changes are compare-and-set, so with several instances only one acts on a decision. Callers serialise
/// <see cref="StartAsync"/>, <see cref="CheckAsync"/> and <see cref="ResumeAsync"/>; <see cref="Report"/> may come
/// from any thread.
/// </summary>
internal sealed partial class RolloutCoordinator(
    ModelRegistry registry, AggregatorOptions options, IReleaseChannel channel, Journal journal, TimeProvider time, ILogger logger,
    Action<string, DecisionKind> decided)
{
    // Ignored reports are counted in the watch; only the first few per canary are logged, so a flood of forged
    // telemetry cannot flood the log too.
    private const int LoggedIgnoredReports = 20;
    private const int LoggedIdLength = 64;
    private readonly HashSet<string> _toldCanary = new(StringComparer.Ordinal);
    private readonly KnownDevices _known = new(registry, options);
    private volatile CanaryWatch? _watch;
    private int _loggedIgnored;

    /// <summary>The canary being watched, or null.</summary>
    public CanaryWatch? Canary => _watch;

    /// <summary>Files a telemetry accuracy report with the running canary, if any; out-of-range reports and reports of unknown devices are counted and ignored.</summary>
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
        var control = registry.Latest(name, VersionStatus.Released)!;
        var container = registry.Artifacts.Read(candidate.ArtifactSha256);
        // Online comes from retained status, which anyone on the broker can write: only known devices may judge a version.
        var canary = options.Rollout.Canary ? CohortAssigner.Canary(onlineDevices.Where(_known.IsKnown), options.Rollout) : [];
        if (canary.Count == 0)
        {
            if (!registry.TryTransition(name, candidate.Version, VersionStatus.Candidate, VersionStatus.Released)) return;
            var why = options.Rollout.Canary ? "no online canary device known; released to all" : "canary disabled; released to all";
            journal.Decide(name, candidate.Version, DecisionKind.Released, why, "{}");
            await PublishAsync(container, candidate, Cohorts.All, cancellationToken).ConfigureAwait(false);
            LogReleased(logger, name, candidate.Version, why);
            decided(candidate.Version, DecisionKind.Released);
            return;
        }
        if (!registry.TryTransition(name, candidate.Version, VersionStatus.Candidate, VersionStatus.Canary)) return;
        journal.Decide(name, candidate.Version, DecisionKind.CanaryStarted, $"canary cohort of {canary.Count} devices vs control on {control.Version}",
            JsonSerializer.Serialize(canary.ToArray(), AggregatorJson.Default.StringArray));
        _watch = Watch(candidate.Version, control.Version, canary, time.GetUtcNow());
        foreach (var device in canary)
        {
            if (_toldCanary.Add(device))
                await channel.SetCohortAsync(device, Cohorts.Canary, cancellationToken).ConfigureAwait(false);
        }
        await PublishAsync(container, candidate, Cohorts.Canary, cancellationToken).ConfigureAwait(false);
        LogCanary(logger, name, candidate.Version, canary.Count, canary);
        decided(candidate.Version, DecisionKind.CanaryStarted);
    }

    /// <summary>Evaluates the running canary now and acts on the verdict; Wait when undecided, null when no canary runs.</summary>
    public async Task<RolloutDecision?> CheckAsync(CancellationToken cancellationToken)
    {
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
        if (decision.Verdict == RolloutVerdict.Wait) return decision;
        if (decision.Verdict == RolloutVerdict.Promote)
        {
            if (registry.TryTransition(name, current.Version, VersionStatus.Canary, VersionStatus.Released))
            {
                journal.Decide(name, current.Version, DecisionKind.Promoted, decision.Reason, decision.ToJson());
                await PublishAsync(registry.Artifacts.Read(current.ArtifactSha256), current, Cohorts.All, cancellationToken).ConfigureAwait(false);
                LogPromoted(logger, name, current.Version, decision.Reason);
                decided(current.Version, DecisionKind.Promoted);
            }
        }
        else if (registry.TryTransition(name, current.Version, VersionStatus.Canary, VersionStatus.RolledBack))
        {
            journal.Decide(name, current.Version, DecisionKind.RolledBack, decision.Reason, decision.ToJson());
            var previous = registry.GetVersion(name, watch.ControlVersion)!;
            // The previous release goes out again for everyone with a new, higher release sequence: canary devices install
            // it although its version is older than theirs, and the others accept it as the one they already run.
            await PublishAsync(registry.Artifacts.Read(previous.ArtifactSha256), previous, Cohorts.All, cancellationToken).ConfigureAwait(false);
            LogRolledBack(logger, name, current.Version, previous.Version, decision.Reason);
            decided(current.Version, DecisionKind.RolledBack);
        }
        _watch = null;
        return decision;
    }

    /// <summary>After a restart: pick up a canary still running, or start the rollout of a candidate left unpublished by a crash.</summary>
    public async Task ResumeAsync(IEnumerable<string> onlineDevices, CancellationToken cancellationToken)
    {
        var name = options.ModelName;
        var control = registry.Latest(name, VersionStatus.Released)!;
        if (registry.Latest(name, VersionStatus.Canary) is { } canary)
        {
            var started = registry.Decisions.List(name, canary.Version).LastOrDefault(d => d.Decision == DecisionKind.CanaryStarted);
            var devices = started is null ? [] : JsonSerializer.Deserialize(started.NumbersJson, AggregatorJson.Default.StringArray) ?? [];
            _watch = Watch(canary.Version, control.Version, devices, started?.At ?? time.GetUtcNow());
            LogResumed(logger, name, canary.Version, devices.Length);
        }
        else if (registry.Latest(name, VersionStatus.Candidate) is { } candidate && candidate.Seq > control.Seq)
        {
            await StartAsync(candidate, onlineDevices, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<ContinualLearning.Fleet.Messages.Release> PublishAsync(byte[] container, ModelVersionRecord version, string cohort, CancellationToken cancellationToken) =>
        channel.PublishAsync(container, version.Name, version.Version, version.Parent, cohort,
            registry.Releases.Allocate(version.Name, version.Version, cohort), cancellationToken);

    private CanaryWatch Watch(string candidate, string control, IEnumerable<string> canary, DateTimeOffset started)
    {
        Interlocked.Exchange(ref _loggedIgnored, 0);
        return new CanaryWatch(candidate, control, canary, started, _known.IsKnown);
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

    [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "Resuming canary of {Model} {Version} ({Count} devices)")]
    private static partial void LogResumed(ILogger logger, string model, string version, int count);
}
