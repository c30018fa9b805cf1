namespace ContinualLearning.Tests.Aggregator;

/// <summary>Polls a condition until it holds or the patience runs out; the timeout names what was awaited.</summary>
internal static class Wait
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static Task Until(Func<bool> condition, string what) => Until(condition, () => what);

    public static async Task Until(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for: {what()}");
            await Task.Delay(50);
        }
    }
}
