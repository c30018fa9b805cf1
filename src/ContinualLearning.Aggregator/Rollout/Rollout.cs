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
    double ElapsedSeconds)
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
    }, RolloutJson.Default.DictionaryStringNullableDouble);
}

/// <summary>
/// The canary rule as a pure function. Canary accuracy = mean over canary devices of each device's mean accuracy
/// reported while running the candidate; control = the same over non-canary devices running the previous release
/// (per-device means so a chatty device does not outweigh the others). Promote as soon as both cohorts have at least
/// <see cref="RolloutOptions.MinReports"/> reports and canary ≥ control − margin; roll back as soon as they have the
/// reports and canary is worse; when the window ends without enough reports, roll back (no evidence, no rollout).
/// </summary>
internal static class RolloutPolicy
{
    public static RolloutDecision Decide(IReadOnlyCollection<AccuracyReport> canary, IReadOnlyCollection<AccuracyReport> control, RolloutOptions options, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(canary);
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(options);
        var c = DeviceMean(canary);
        var k = DeviceMean(control);
        var canaryDevices = canary.Select(r => r.DeviceId).Distinct().Count();
        var controlDevices = control.Select(r => r.DeviceId).Distinct().Count();
        RolloutDecision Make(RolloutVerdict v, string reason) =>
            new(v, reason, c, k, canary.Count, control.Count, canaryDevices, controlDevices, options.AccuracyMargin, elapsed.TotalSeconds);

        var enough = canary.Count >= options.MinReports && control.Count >= options.MinReports;
        if (enough)
        {
            return c >= k - options.AccuracyMargin
                ? Make(RolloutVerdict.Promote, $"canary accuracy {c:F4} ≥ control {k:F4} − margin {options.AccuracyMargin:F4}")
                : Make(RolloutVerdict.Rollback, $"canary accuracy {c:F4} < control {k:F4} − margin {options.AccuracyMargin:F4}");
        }
        if (elapsed >= options.Window)
            return Make(RolloutVerdict.Rollback, $"window of {options.Window.TotalSeconds:0.#} s ended with {canary.Count} canary and {control.Count} control reports; {options.MinReports} each are needed");
        return Make(RolloutVerdict.Wait, $"waiting for reports: {canary.Count} canary, {control.Count} control of {options.MinReports} each");
    }

    private static double? DeviceMean(IEnumerable<AccuracyReport> reports)
    {
        var perDevice = reports.GroupBy(r => r.DeviceId, StringComparer.Ordinal).Select(g => g.Average(r => r.Accuracy)).ToArray();
        return perDevice.Length == 0 ? null : perDevice.Average();
    }
}

/// <summary>Collects telemetry accuracy reports during a canary: canary devices on the candidate, others on the control version.</summary>
public sealed class CanaryWatch
{
    private readonly List<AccuracyReport> _canary = [];
    private readonly List<AccuracyReport> _control = [];
    private readonly HashSet<string> _canaryDevices;
    private readonly Lock _lock = new();

    public CanaryWatch(string candidateVersion, string controlVersion, IEnumerable<string> canaryDevices, DateTimeOffset started)
    {
        CandidateVersion = candidateVersion;
        ControlVersion = controlVersion;
        _canaryDevices = new HashSet<string>(canaryDevices, StringComparer.Ordinal);
        Started = started;
    }

    public string CandidateVersion { get; }

    public string ControlVersion { get; }

    public DateTimeOffset Started { get; }

    public IReadOnlyCollection<string> CanaryDevices => _canaryDevices;

    /// <summary>Files a report under its cohort when it is about the right version and was made after the canary started.</summary>
    public void Add(AccuracyReport report)
    {
        if (report.At < Started || !double.IsFinite(report.Accuracy)) return;
        lock (_lock)
        {
            if (_canaryDevices.Contains(report.DeviceId))
            {
                if (report.ModelVersion == CandidateVersion) _canary.Add(report);
            }
            else if (report.ModelVersion == ControlVersion)
            {
                _control.Add(report);
            }
        }
    }

    public RolloutDecision Decide(RolloutOptions options, DateTimeOffset now)
    {
        lock (_lock) return RolloutPolicy.Decide(_canary.ToArray(), _control.ToArray(), options, now - Started);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double?>))]
internal sealed partial class RolloutJson : System.Text.Json.Serialization.JsonSerializerContext;
