namespace ContinualLearning.Device.Serving;

/// <summary>
/// At most one log line per interval for a kind of event that a sender can repeat at will (refused messages): the
/// first one in each interval is logged, the rest are counted and the count goes into the next line. A flood then
/// costs one line per interval, not one per message. Thread safe.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private readonly Lock _lock = new();
    private long _loggedAt;
    private bool _logged;
    private long _suppressed;

    public TimeSpan Interval => interval;

    /// <summary>True when this event should be logged; <paramref name="suppressed"/> is how many were not since the last logged one.</summary>
    public bool ShouldLog(out long suppressed)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_logged && time.GetElapsedTime(_loggedAt, now) < interval)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }
            _logged = true;
            _loggedAt = now;
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }
}
