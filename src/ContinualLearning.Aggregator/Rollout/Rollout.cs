using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>Cohort names used in <see cref="ContinualLearning.Fleet.Messages.Release.Cohort"/> and the device config key "cohort".</summary>
public static class Cohorts
{
    public const string Canary = "canary";
    public const string All = "all";
}

/// <summary>
/// Picks the canary cohort: an explicit device list, or each device whose id hashes below the fraction
/// (first 8 bytes of SHA-256(id) as a number in [0, 1)). The hash makes the choice stable across rounds and
/// instances, without state: a device is canary for every version, so its history stays comparable.
/// </summary>
internal static class CohortAssigner
{
    public static double HashFraction(string deviceId)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(deviceId));
        return BinaryPrimitives.ReadUInt64BigEndian(hash) / 18446744073709551616.0; // 2^64
    }

    public static bool IsCanary(string deviceId, RolloutOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.CanaryDevices is { } list
            ? list.Contains(deviceId, StringComparer.Ordinal)
            : HashFraction(deviceId) < options.CanaryFraction;
    }

    /// <summary>The canary subset of <paramref name="knownDevices"/>; at least one device when any is known and the fraction is positive.</summary>
    public static IReadOnlyList<string> Canary(IEnumerable<string> knownDevices, RolloutOptions options)
    {
        ArgumentNullException.ThrowIfNull(knownDevices);
        var known = knownDevices.Distinct(StringComparer.Ordinal).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        if (options.CanaryDevices is not null) return known.Where(d => IsCanary(d, options)).ToArray();
        var chosen = known.Where(d => IsCanary(d, options)).ToArray();
        // A small fleet with a small fraction may hash nobody below it; take the lowest hash so a canary exists.
        if (chosen.Length == 0 && known.Length > 1 && options.CanaryFraction > 0)
            chosen = [known.OrderBy(HashFraction).First()];
        return chosen;
    }
}

/// <summary>One accuracy report from telemetry.</summary>
public readonly record struct AccuracyReport(string DeviceId, string ModelVersion, double Accuracy, DateTimeOffset At);

/// <summary>What to do with a canary.</summary>
public enum RolloutVerdict
{
    Wait,
    Promote,
    Rollback,
}

/// <summary>A rollout decision and the numbers behind it.</summary>
public sealed record RolloutDecision(
    RolloutVerdict Verdict,
    string Reason,
    double? CanaryAccuracy,
    double? ControlAccuracy,
    int CanaryReports,
    int ControlReports,
    int CanaryDevices,
    int ControlDevices,
    double Margin,
    double ElapsedSeconds,
    int IgnoredReports = 0)
{
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, double?>
    {
        ["canaryAccuracy"] = CanaryAccuracy,
        ["controlAccuracy"] = ControlAccuracy,
        ["canaryReports"] = CanaryReports,
        ["controlReports"] = ControlReports,
        ["canaryDevices"] = CanaryDevices,
        ["controlDevices"] = ControlDevices,
        ["margin"] = Margin,
        ["elapsedSeconds"] = ElapsedSeconds,
        ["ignoredReports"] = IgnoredReports,
    }, RolloutJson.Default.DictionaryStringNullableDouble);
}

/// <summary>One cohort's evidence: each reporting device's mean accuracy (one value per device) and the number of reports behind them.</summary>
internal sealed record CohortReports(IReadOnlyList<double> DeviceMeans, int Reports)
{
    public int Devices => DeviceMeans.Count;

    /// <summary>The median over devices, null when none reported: one device, or a few, cannot drag it far.</summary>
    public double? Median()
    {
        if (DeviceMeans.Count == 0) return null;
        var sorted = DeviceMeans.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>
/// The canary rule as a pure function. Each device's reports are averaged into one value, so a chatty device counts
/// once; a cohort's accuracy is the median of those values. Canary = devices of the canary cohort running the
/// candidate; control = the other devices running the previous release. Promote as soon as both cohorts have at least
/// <see cref="RolloutOptions.MinReports"/> reports from at least <see cref="RolloutOptions.MinDevices"/> distinct devices
/// (the canary cohort at most its size) and canary ≥ control − margin; roll back as soon as they have the evidence and
/// canary is worse; when the window ends without enough evidence, roll back (no evidence, no rollout).
/// </summary>
internal static class RolloutPolicy
{
    public static RolloutDecision Decide(CohortReports canary, CohortReports control, int canaryCohort, RolloutOptions options, TimeSpan elapsed, int ignoredReports = 0)
    {
        ArgumentNullException.ThrowIfNull(canary);
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(options);
        var c = canary.Median();
        var k = control.Median();
        RolloutDecision Make(RolloutVerdict v, string reason) =>
            new(v, reason, c, k, canary.Reports, control.Reports, canary.Devices, control.Devices, options.AccuracyMargin, elapsed.TotalSeconds, ignoredReports);

        var canaryDevicesNeeded = Math.Min(options.MinDevices, Math.Max(canaryCohort, 1));
        var enough = canary.Reports >= options.MinReports && control.Reports >= options.MinReports
            && canary.Devices >= canaryDevicesNeeded && control.Devices >= options.MinDevices;
        if (enough)
        {
            return c >= k - options.AccuracyMargin
                ? Make(RolloutVerdict.Promote, $"canary accuracy {c:F4} ≥ control {k:F4} − margin {options.AccuracyMargin:F4}")
                : Make(RolloutVerdict.Rollback, $"canary accuracy {c:F4} < control {k:F4} − margin {options.AccuracyMargin:F4}");
        }
        var evidence = $"{canary.Reports} canary reports from {canary.Devices} devices and {control.Reports} control reports from {control.Devices} devices; "
            + $"each cohort needs {options.MinReports} reports from {canaryDevicesNeeded} (canary) and {options.MinDevices} (control) known devices";
        if (elapsed >= options.Window)
            return Make(RolloutVerdict.Rollback, $"window of {options.Window.TotalSeconds:0.#} s ended with {evidence}");
        return Make(RolloutVerdict.Wait, $"waiting for reports: {evidence}");
    }
}

/// <summary>Why <see cref="CanaryWatch.Add"/> did or did not count a report.</summary>
public enum ReportOutcome
{
    /// <summary>Counted under its cohort.</summary>
    Counted,

    /// <summary>Made before the canary started.</summary>
    BeforeStart,

    /// <summary>Accuracy not a number in [0, 1]: a broken or forged report.</summary>
    OutOfRange,

    /// <summary>The registry does not know the device (no delta of it ever accepted, not enrolled).</summary>
    UnknownDevice,

    /// <summary>About a version that is not the cohort's (a canary device still on the old release, a control device on the candidate).</summary>
    OtherVersion,
}

/// <summary>
/// Collects telemetry accuracy reports during a canary: canary devices on the candidate, others on the control version.
/// Only one running mean per device is kept, so its memory is bounded by the number of known devices, not of reports.
/// </summary>
public sealed class CanaryWatch
{
    private readonly Dictionary<string, (double Sum, int Count)> _canary = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (double Sum, int Count)> _control = new(StringComparer.Ordinal);
    private readonly HashSet<string> _canaryDevices;
    private readonly Func<string, bool> _isKnown;
    private readonly Lock _lock = new();
    private int _ignored;

    /// <param name="candidateVersion">The version on the canary cohort.</param>
    /// <param name="controlVersion">The release the other devices run.</param>
    /// <param name="canaryDevices">The canary cohort.</param>
    /// <param name="started">Reports made earlier are not counted.</param>
    /// <param name="isKnown">Whether the registry knows a device; reports of others are ignored. Null counts every device.</param>
    public CanaryWatch(string candidateVersion, string controlVersion, IEnumerable<string> canaryDevices, DateTimeOffset started, Func<string, bool>? isKnown = null)
    {
        CandidateVersion = candidateVersion;
        ControlVersion = controlVersion;
        _canaryDevices = new HashSet<string>(canaryDevices, StringComparer.Ordinal);
        Started = started;
        _isKnown = isKnown ?? (_ => true);
    }

    public string CandidateVersion { get; }

    public string ControlVersion { get; }

    public DateTimeOffset Started { get; }

    public IReadOnlyCollection<string> CanaryDevices => _canaryDevices;

    /// <summary>Reports not counted since the canary started, whatever the reason.</summary>
    public int IgnoredReports => Volatile.Read(ref _ignored);

    /// <summary>Files a report under its cohort when it is in range, from a known device, about the cohort's version and made after the canary started.</summary>
    public ReportOutcome Add(AccuracyReport report)
    {
        var outcome = report.At < Started ? ReportOutcome.BeforeStart
            : !(report.Accuracy is >= 0 and <= 1) ? ReportOutcome.OutOfRange
            : !_isKnown(report.DeviceId) ? ReportOutcome.UnknownDevice
            : ReportOutcome.Counted;
        if (outcome == ReportOutcome.Counted)
        {
            var canary = _canaryDevices.Contains(report.DeviceId);
            var cohort = canary ? _canary : _control;
            if (report.ModelVersion != (canary ? CandidateVersion : ControlVersion))
            {
                outcome = ReportOutcome.OtherVersion;
            }
            else
            {
                lock (_lock)
                {
                    var (sum, count) = cohort.GetValueOrDefault(report.DeviceId);
                    cohort[report.DeviceId] = (sum + report.Accuracy, count + 1);
                }
            }
        }
        if (outcome != ReportOutcome.Counted) Interlocked.Increment(ref _ignored);
        return outcome;
    }

    public RolloutDecision Decide(RolloutOptions options, DateTimeOffset now)
    {
        lock (_lock) return RolloutPolicy.Decide(Cohort(_canary), Cohort(_control), _canaryDevices.Count, options, now - Started, IgnoredReports);
    }

    private static CohortReports Cohort(Dictionary<string, (double Sum, int Count)> devices) =>
        new(devices.Values.Select(d => d.Sum / d.Count).ToArray(), devices.Values.Sum(d => d.Count));
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double?>))]
internal sealed partial class RolloutJson : System.Text.Json.Serialization.JsonSerializerContext;
