using ContinualLearning.Rates;

namespace ContinualLearning.Device.Serving;

/// <summary>
/// A token bucket: <c>capacity</c> tokens at most, refilled at <c>ratePerSecond</c>; each admitted item takes one.
/// A sender may burst up to the capacity, then gets the sustained rate. Thread safe; time from a <see cref="TimeProvider"/>.
/// </summary>
internal sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private readonly double _ratePerSecond;
    private readonly double _capacity;
    private readonly TimeProvider _time;
    private TokenBucketState _state;

    public TokenBucket(double ratePerSecond, int capacity, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _ratePerSecond = ratePerSecond;
        _capacity = capacity;
        _time = time;
        _state = TokenBucketState.Full(capacity, time.GetTimestamp());
    }

    /// <summary>Takes a token when one is left; false means over the rate.</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            var state = _state.Refill(_time.GetTimestamp(), _capacity, _ratePerSecond, _time);
            _state = state.HasToken ? state.Take() : state;
            return state.HasToken;
        }
    }
}
