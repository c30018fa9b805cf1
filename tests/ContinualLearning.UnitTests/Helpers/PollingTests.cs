namespace ContinualLearning.UnitTests.Helpers;

/// <summary>The test kit's one poll helper: returns as soon as the condition holds, and fails saying what it waited for.</summary>
public sealed class PollingTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);
    private static readonly string[] Released = ["1.1.0 released"];
    private static readonly object?[] Nested = ["a", null, new[] { 1, 2 }];

    [Fact]
    public async Task Returns_once_the_condition_holds()
    {
        var calls = 0;
        await WaitUntil(() => ++calls == 3, "the third check");
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Returns_the_first_accepted_observation()
    {
        var next = 0;
        var value = await WaitUntil(() => next++, n => n >= 2, "a value of at least 2");
        Assert.Equal(2, value);
    }

    [Fact]
    public async Task Timeout_names_what_was_awaited_and_the_last_observed_value()
    {
        var ex = await Assert.ThrowsAsync<WaitTimeoutException>(() => WaitUntil(() => Released, d => d.Contains("1.2.0 released"), "1.2.0 released", Short));
        Assert.Contains("Timed out after 0.1 s waiting for: 1.2.0 released.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Last observed: [1.1.0 released]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bare_condition_is_named_by_its_source_text()
    {
        var count = 0;
        var ex = await Assert.ThrowsAsync<WaitTimeoutException>(() => WaitUntil(() => count == 4, patience: Short));
        Assert.Contains("waiting for: () => count == 4.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Describe_formats_the_last_observed_value()
    {
        var ex = await Assert.ThrowsAsync<WaitTimeoutException>(() => WaitUntil(() => (Accepted: 3, Rejected: 1), n => n.Accepted == 5, "5 accepted", Short, n => $"{n.Accepted} accepted, {n.Rejected} rejected"));
        Assert.EndsWith("Last observed: 3 accepted, 1 rejected", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Async_observation_gets_a_token_cancelled_when_patience_runs_out()
    {
        var ex = await Assert.ThrowsAsync<WaitTimeoutException>(() => WaitUntil(async ct =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return 0;
        }, _ => true, "an observation that never finishes", Short));
        Assert.Contains("Last observed: nothing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_observation_that_throws_fails_the_wait_with_that_exception()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => WaitUntil<int>(() => throw new InvalidOperationException("broker exited"), _ => true, "a broker"));
        Assert.Equal("broker exited", ex.Message);
    }

    [Fact]
    public void Collections_are_described_item_by_item()
    {
        Assert.Equal("[a, null, [1, 2]]", Polling.Describe(Nested));
        Assert.Equal("text", Polling.Describe("text"));
        Assert.Equal("1.5", Polling.Describe(1.5));
    }
}
