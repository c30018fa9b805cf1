namespace ContinualLearning.Aggregator.Metrics;

/// <summary>
/// When registry operations last succeeded and failed, as <see cref="AggregatorMetrics"/> hears of them: the registry
/// half of <c>/health</c> (<see cref="AggregatorHealth"/>). Thread safe.
/// </summary>
internal sealed class RegistryHealth(TimeProvider time)
{
    private readonly Lock _lock = new();
    private DateTimeOffset? _lastSuccess;
    private (DateTimeOffset At, string Operation, string ErrorType)? _lastFailure;

    public TimeProvider Time => time;

    public void Succeeded()
    {
        var now = time.GetUtcNow();
        lock (_lock) _lastSuccess = now;
    }

    public void Failed(string operation, Exception error)
    {
        var now = time.GetUtcNow();
        lock (_lock) _lastFailure = (now, operation, error.GetType().Name);
    }

    /// <summary>The last success, and the last failure when it came after it (null once an operation succeeded again).</summary>
    public (DateTimeOffset? LastSuccess, (DateTimeOffset At, string Operation, string ErrorType)? FailureSince) Snapshot()
    {
        lock (_lock)
            return (_lastSuccess, _lastFailure is { } f && (_lastSuccess is not { } s || f.At >= s) ? f : null);
    }
}
