namespace ContinualLearning.Fleet.Client;

/// <summary>
/// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
/// delay = uniform(0, min(cap, base · 2^attempt)). Full jitter spreads a fleet that lost its broker
/// at the same moment, so the broker is not hit by every device at once when it comes back.
/// </summary>
internal static class ReconnectBackoff
{
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        // Cap the exponent first so 2^attempt cannot overflow for long outages.
        var ceilingMs = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(random.NextDouble() * ceilingMs);
    }
}
