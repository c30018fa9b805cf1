using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>Why <see cref="CanaryWatch.Add"/> did or did not count a report.</summary>
public enum ReportOutcome
{
    /// <summary>Counted under its cohort.</summary>
    Counted,

    /// <summary>Received before the canary started.</summary>
    BeforeStart,

    /// <summary>Accuracy not a number in [0, 1]: a broken or forged report.</summary>
    OutOfRange,

    /// <summary>The registry does not know the device (no delta of it ever accepted, not enrolled).</summary>
    UnknownDevice,

    /// <summary>About a version that is not the cohort's (a canary device still on the old release, a control device on the candidate).</summary>
    OtherVersion,

    /// <summary>
    /// Already counted: the device has a counted report made at the same time or later (a QoS 1 redelivery, the same report
    /// counted by another instance), or the canary was decided meanwhile. Not a fault, so not among the ignored reports.
    /// </summary>
    Repeated,
}

/// <summary>
/// One instance's view of a canary the registry keeps (<see cref="CanaryStore"/>): it filters telemetry accuracy
/// reports (in range, from a known device, about the cohort's version, received after the start) and counts the rest
/// in the registry, where every instance adds to and decides from the same per-device sums. Canary devices report on
/// the candidate, the others on the control version. It holds only the cohort and the number of reports it ignored
/// since it last saved that number, so its memory is bounded by the cohort, and the registry's rows by the reporting devices.
/// </summary>
public sealed class CanaryWatch
{
    /// <summary>The stored cohort of a device outside the canary cohort.</summary>
    internal const string ControlCohort = "control";

    private readonly CanaryStore _store;
    private readonly CanaryRecord _canary;
    private readonly HashSet<string> _canaryDevices;
    private readonly string _instanceId;
    private readonly Func<string, bool> _isKnown;
    private int _unsavedIgnored;

    /// <param name="store">Where the canary's reports are counted.</param>
    /// <param name="canary">The canary, as recorded when it started.</param>
    /// <param name="instanceId">This aggregator instance, under which the reports it ignored are tallied.</param>
    /// <param name="isKnown">Whether the registry knows a device; reports of others are ignored. Null counts every device.</param>
    internal CanaryWatch(CanaryStore store, CanaryRecord canary, string instanceId, Func<string, bool>? isKnown = null)
    {
        _store = store;
        _canary = canary;
        _canaryDevices = new HashSet<string>(canary.Devices, StringComparer.Ordinal);
        _instanceId = instanceId;
        _isKnown = isKnown ?? (_ => true);
    }

    /// <summary>The version on the canary cohort.</summary>
    public string CandidateVersion => _canary.Version;

    /// <summary>The release the other devices run.</summary>
    public string ControlVersion => _canary.ControlVersion;

    /// <summary>When the canary started; reports received earlier are not counted.</summary>
    public DateTimeOffset Started => _canary.Started;

    public IReadOnlyCollection<string> CanaryDevices => _canaryDevices;

    /// <summary>Counts a report under its cohort when it is in range, from a known device, about the cohort's version, received after the start and not counted before.</summary>
    public ReportOutcome Add(AccuracyReport report)
    {
        var canary = _canaryDevices.Contains(report.DeviceId);
        var outcome = report.At < Started ? ReportOutcome.BeforeStart
            : !(report.Accuracy is >= 0 and <= 1) ? ReportOutcome.OutOfRange
            : !_isKnown(report.DeviceId) ? ReportOutcome.UnknownDevice
            : report.ModelVersion != (canary ? CandidateVersion : ControlVersion) ? ReportOutcome.OtherVersion
            : ReportOutcome.Counted;
        if (outcome == ReportOutcome.Counted
            && !_store.AddReport(_canary.Name, CandidateVersion, report.DeviceId, canary ? Cohorts.Canary : ControlCohort, report.Accuracy, report.Key))
            outcome = ReportOutcome.Repeated;
        // Tallied in memory and saved once per tick: a flood of forged reports must not become a flood of database writes.
        if (outcome is not (ReportOutcome.Counted or ReportOutcome.Repeated)) Interlocked.Increment(ref _unsavedIgnored);
        return outcome;
    }

    /// <summary>Adds the reports this instance ignored since the last save to its tally in the registry.</summary>
    public void SaveIgnored()
    {
        var count = Interlocked.Exchange(ref _unsavedIgnored, 0);
        if (count == 0) return;
        try
        {
            _store.AddIgnored(_canary.Name, CandidateVersion, _instanceId, count);
        }
        catch
        {
            Interlocked.Add(ref _unsavedIgnored, count); // kept for the next save
            throw;
        }
    }

    /// <summary>The verdict on the reports every instance counted so far.</summary>
    public RolloutDecision Decide(RolloutOptions options, DateTimeOffset now)
    {
        SaveIgnored();
        var reports = _store.Reports(_canary.Name, CandidateVersion);
        return RolloutPolicy.Decide(Cohort(reports, Cohorts.Canary), Cohort(reports, ControlCohort), _canaryDevices.Count, options, now - Started,
            _store.Ignored(_canary.Name, CandidateVersion));
    }

    private static CohortReports Cohort(IReadOnlyList<CanaryDeviceReports> reports, string cohort)
    {
        var devices = reports.Where(r => r.Cohort == cohort && r.Reports > 0).ToArray();
        return new(devices.Select(d => d.AccuracySum / d.Reports).ToArray(), devices.Sum(d => d.Reports));
    }
}
