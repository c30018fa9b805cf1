using System.Collections.Concurrent;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Aggregator.Console;

/// <summary>A device's accuracy at one moment.</summary>
internal readonly record struct AccuracySample(DateTimeOffset T, double Accuracy);

/// <summary>A drift alarm: a device's telemetry turned to drift, and the detector that fired.</summary>
internal sealed record DriftAlarm(DateTimeOffset T, string DeviceId, string? Detector);

/// <summary>What the last telemetry of a device said, with its recent accuracies and drift alarms (each bounded).</summary>
internal sealed class DeviceReadings
{
    public const int RecentAccuracies = 60;
    public const int RecentAlarms = 20;

    private readonly Queue<AccuracySample> _accuracy = new();
    private readonly Queue<DriftAlarm> _alarms = new();

    public Telemetry? Last { get; private set; }

    /// <summary>When <see cref="Last"/> was received.</summary>
    public DateTimeOffset LastAt { get; private set; }

    /// <summary>The last minute (Unix minutes) this device's accuracy was counted in the fleet's per-minute mean; a device counts once per minute.</summary>
    public long LastMinute { get; set; } = -1;

    /// <summary>Records a report; returns the drift alarm it raised (stable or warning → drift), or null.</summary>
    public DriftAlarm? Add(Telemetry telemetry, DateTimeOffset at)
    {
        lock (_accuracy)
        {
            var wasDrift = Last?.Drift == DriftState.Drift;
            Last = telemetry;
            LastAt = at;
            if (telemetry.Accuracy is { } a && double.IsFinite(a))
                Push(_accuracy, new AccuracySample(at, a), RecentAccuracies);
            if (telemetry.Drift != DriftState.Drift || wasDrift) return null;
            var alarm = new DriftAlarm(at, telemetry.DeviceId, telemetry.DriftDetector);
            Push(_alarms, alarm, RecentAlarms);
            return alarm;
        }
    }

    public (AccuracySample[] Accuracy, DriftAlarm[] Alarms) Recent()
    {
        lock (_accuracy) return (_accuracy.ToArray(), _alarms.ToArray());
    }

    private static void Push<T>(Queue<T> queue, T item, int max)
    {
        queue.Enqueue(item);
        while (queue.Count > max) queue.Dequeue();
    }
}

/// <summary>
/// The telemetry the console shows, kept in memory and bounded: per device its last report and recent history
/// (<see cref="DeviceReadings"/>; one entry per device that reported, as the directory holds one per device with a
/// status), the fleet's mean accuracy per minute for <see cref="HistoryMinutes"/>, and the last
/// <see cref="MaxAlarms"/> drift alarms. A restart loses them (the devices report again within their telemetry
/// interval); nothing here decides anything, unlike the canary's counts, which the registry keeps.
/// </summary>
internal sealed class DeviceTelemetry
{
    public const int HistoryMinutes = 24 * 60;
    public const int MaxAlarms = 10_000;
    public const int MaxDevices = 100_000;

    private readonly ConcurrentDictionary<string, DeviceReadings> _devices = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, (double Sum, int Reports, int Devices)> _minutes = [];
    private readonly Queue<DriftAlarm> _alarms = new();

    /// <summary>Records one report; returns the drift alarm it raised, or null.</summary>
    public DriftAlarm? Add(string deviceId, Telemetry telemetry, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        // Telemetry comes from anyone on the broker under any id: the map stops growing at a bound far above a real fleet.
        if (!_devices.TryGetValue(deviceId, out var readings))
        {
            if (_devices.Count >= MaxDevices) return null;
            readings = _devices.GetOrAdd(deviceId, _ => new DeviceReadings());
        }
        var alarm = readings.Add(telemetry with { DeviceId = deviceId }, at);
        lock (_minutes)
        {
            if (telemetry.Accuracy is { } a && a is >= 0 and <= 1)
            {
                var minute = at.ToUnixTimeSeconds() / 60;
                var newDevice = readings.LastMinute != minute ? 1 : 0;
                readings.LastMinute = minute;
                _minutes[minute] = _minutes.TryGetValue(minute, out var m) ? (m.Sum + a, m.Reports + 1, m.Devices + newDevice) : (a, 1, 1);
                while (_minutes.Count > HistoryMinutes) _minutes.Remove(_minutes.Keys.First());
            }
            if (alarm is not null)
            {
                _alarms.Enqueue(alarm);
                while (_alarms.Count > MaxAlarms) _alarms.Dequeue();
            }
        }
        return alarm;
    }

    public DeviceReadings? Get(string deviceId) => _devices.TryGetValue(deviceId, out var r) ? r : null;

    /// <summary>Mean accuracy of the reports received in each minute since <paramref name="since"/>, oldest first, with the number of devices that reported.</summary>
    public IReadOnlyList<(DateTimeOffset T, double Accuracy, int Devices)> AccuracyPerMinute(DateTimeOffset since)
    {
        var first = since.ToUnixTimeSeconds() / 60;
        lock (_minutes)
            return _minutes.Where(m => m.Key >= first).Select(m => (DateTimeOffset.FromUnixTimeSeconds(m.Key * 60), m.Value.Sum / m.Value.Reports, m.Value.Devices)).ToArray();
    }

    /// <summary>Drift alarms since <paramref name="since"/>, oldest first.</summary>
    public IReadOnlyList<DriftAlarm> Alarms(DateTimeOffset since)
    {
        lock (_minutes) return _alarms.Where(a => a.T >= since).ToArray();
    }
}
