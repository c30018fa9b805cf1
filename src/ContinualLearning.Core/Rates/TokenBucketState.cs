namespace ContinualLearning.Rates;

/// <summary>
/// The state of one token bucket as a value: the tokens left and when they were counted. A sender may burst up to the
/// capacity, then gets the sustained rate; each admitted item takes one token. Pure, so a single bucket (the device's
/// samples limit) and a table of buckets (the aggregator's per-device rejection throttle) share the same arithmetic.
/// </summary>
/// <param name="Tokens">Tokens left at <paramref name="At"/>.</param>
/// <param name="At">The <see cref="TimeProvider.GetTimestamp"/> the tokens were counted at.</param>
public readonly record struct TokenBucketState(double Tokens, long At)
{
    /// <summary>A full bucket of <paramref name="capacity"/> tokens at <paramref name="now"/>.</summary>
    public static TokenBucketState Full(double capacity, long now) => new(capacity, now);

    /// <summary>The bucket at <paramref name="now"/>: refilled at <paramref name="perSecond"/>, never above <paramref name="capacity"/>.</summary>
    public TokenBucketState Refill(long now, double capacity, double perSecond, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return new(Math.Min(capacity, Tokens + (time.GetElapsedTime(At, now).TotalSeconds * perSecond)), now);
    }

    /// <summary>True when a whole token is left.</summary>
    public bool HasToken => Tokens >= 1;

    /// <summary>The bucket with one token taken.</summary>
    public TokenBucketState Take() => this with { Tokens = Tokens - 1 };
}
