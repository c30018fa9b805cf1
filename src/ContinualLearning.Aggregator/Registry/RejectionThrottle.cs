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

    private readonly Dictionary<string, Bucket> _devices = new(StringComparer.Ordinal);
    private Bucket _fleet = new(burst * FleetFactor, time.GetTimestamp());

    /// <summary>True when a rejection of <paramref name="deviceId"/> may be recorded now (and takes its token).</summary>
    public bool TryTake(string? deviceId)
    {
        var now = time.GetTimestamp();
        var key = deviceId ?? "";
        if (!_devices.TryGetValue(key, out var device))
        {
            if (_devices.Count >= MaxDevices) _devices.Clear();
            device = new Bucket(burst, now);
        }
        device = device.Refill(now, burst, perMinute, time);
        var fleet = _fleet.Refill(now, burst * FleetFactor, perMinute * FleetFactor, time);
        var allowed = device.Tokens >= 1 && fleet.Tokens >= 1;
        if (allowed)
        {
            device = device with { Tokens = device.Tokens - 1 };
            fleet = fleet with { Tokens = fleet.Tokens - 1 };
        }
        _devices[key] = device;
        _fleet = fleet;
        return allowed;
    }

    private readonly record struct Bucket(double Tokens, long At)
    {
        public Bucket Refill(long now, int capacity, double perMinute, TimeProvider time) =>
            new(Math.Min(capacity, Tokens + (time.GetElapsedTime(At, now).TotalMinutes * perMinute)), now);
    }
}
