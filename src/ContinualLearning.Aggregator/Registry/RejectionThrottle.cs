using ContinualLearning.Rates;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Token buckets that decide which rejections are written down (row and log line): each device gets a burst and then a
/// steady rate, and all devices together get ten times that, so a flood of garbage costs one counter increment per
/// message instead of an fsync'd insert and a log line. Not thread safe; <see cref="Journal"/> serialises it.
/// </summary>
internal sealed class RejectionThrottle(int burst, double perMinute, TimeProvider time)
{
    /// <summary>Devices tracked at once; past it the buckets start over (the fleet-wide bucket still holds).</summary>
    private const int MaxDevices = 10_000;

    private const int FleetFactor = 10;

    private readonly Dictionary<string, TokenBucketState> _devices = new(StringComparer.Ordinal);
    private TokenBucketState _fleet = TokenBucketState.Full(burst * FleetFactor, time.GetTimestamp());

    /// <summary>True when a rejection of <paramref name="deviceId"/> may be recorded now (and takes its token).</summary>
    public bool TryTake(string? deviceId)
    {
        var now = time.GetTimestamp();
        var key = deviceId ?? "";
        if (!_devices.TryGetValue(key, out var device))
        {
            if (_devices.Count >= MaxDevices) _devices.Clear();
            device = TokenBucketState.Full(burst, now);
        }
        device = device.Refill(now, burst, perMinute / 60, time);
        var fleet = _fleet.Refill(now, burst * FleetFactor, perMinute * FleetFactor / 60, time);
        var allowed = device.HasToken && fleet.HasToken;
        if (allowed)
        {
            device = device.Take();
            fleet = fleet.Take();
        }
        _devices[key] = device;
        _fleet = fleet;
        return allowed;
    }
}
