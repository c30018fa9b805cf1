namespace ContinualLearning.Device;

internal static class SemaphoreSlimExtensions
{
    /// <summary>Waits for the semaphore or the delay, whichever comes first.</summary>
    public static async Task WaitAsync(this SemaphoreSlim semaphore, TimeSpan delay, TimeProvider time, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        using var timer = time.CreateTimer(_ => timeout.Cancel(), null, delay, Timeout.InfiniteTimeSpan);
        try
        {
            await semaphore.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            // The delay elapsed: that is the normal blink tick.
        }
    }
}
