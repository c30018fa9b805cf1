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
/// <param name="DeviceId">The reporting device.</param>
/// <param name="ModelVersion">The release the device runs.</param>
/// <param name="Accuracy">Its accuracy on the device's recent labelled samples.</param>
/// <param name="At">When the aggregator received it: reports received before the canary started are not counted.</param>
/// <param name="Measured">
/// The device's own timestamp of the report; default when it sent none. It identifies the report: a device's report
/// counts only when it is newer than the last one counted, so a redelivery, or the same report received by several
/// instances, counts once.
/// </param>
public readonly record struct AccuracyReport(string DeviceId, string ModelVersion, double Accuracy, DateTimeOffset At, DateTimeOffset Measured = default)
{
    /// <summary>The timestamp that identifies the report: the device's, or the arrival time when the device sent none.</summary>
    public DateTimeOffset Key => Measured == default ? At : Measured;
}

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

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, double?>))]
internal sealed partial class RolloutJson : System.Text.Json.Serialization.JsonSerializerContext;
