using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;
using Xunit.Sdk;

namespace ContinualLearning.TestKit;

/// <summary>
/// The one way a test waits for background work (a broker delivery, a daemon installing a release): poll a
/// condition until it holds. The patience only bounds a hang and is never asserted as a speed; it runs on the
/// monotonic timer (a clock change cannot cut it short) and ends early when the test run is cancelled. On timeout
/// the failure names what was awaited and the last value observed. Test projects import it with
/// <c>global using static</c>, so a test writes <c>await WaitUntil(...)</c>.
/// </summary>
public static class Polling
{
    /// <summary>Long enough for a loaded 2-core CI machine running tests in parallel.</summary>
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    /// <param name="condition">Checked at once, then every 20 ms.</param>
    /// <param name="what">What is awaited, for the failure message (default: the condition's source text).</param>
    /// <param name="patience">How long before the test fails (default <see cref="DefaultPatience"/>).</param>
    public static Task WaitUntil(
        Func<bool> condition, [CallerArgumentExpression(nameof(condition))] string what = "", TimeSpan? patience = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WaitUntil(_ => Task.FromResult(condition()), static holds => holds, what, patience, static _ => "the condition, still false");
    }

    /// <summary>Observes a value until <paramref name="accept"/> takes it, and returns that value.</summary>
    /// <param name="observe">Reads the current value, at once and then every 20 ms.</param>
    /// <param name="accept">Whether the observed value is the awaited one.</param>
    /// <param name="what">What is awaited, for the failure message.</param>
    /// <param name="patience">How long before the test fails (default <see cref="DefaultPatience"/>).</param>
    /// <param name="describe">Formats the last observed value for the failure message (default: its text;
    /// collections item by item).</param>
    public static Task<T> WaitUntil<T>(
        Func<T> observe, Func<T, bool> accept, string what, TimeSpan? patience = null, Func<T, string>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        return WaitUntil(_ => Task.FromResult(observe()), accept, what, patience, describe);
    }

    /// <summary>
    /// Observes a value asynchronously (a request, a report) until <paramref name="accept"/> takes it, and returns
    /// that value. The token passed to <paramref name="observe"/> is cancelled when the patience runs out.
    /// </summary>
    /// <inheritdoc cref="WaitUntil{T}(Func{T}, Func{T, bool}, string, TimeSpan?, Func{T, string}?)"/>
    public static async Task<T> WaitUntil<T>(
        Func<CancellationToken, Task<T>> observe, Func<T, bool> accept, string what, TimeSpan? patience = null,
        Func<T, string>? describe = null)
    {
        ArgumentNullException.ThrowIfNull(observe);
        ArgumentNullException.ThrowIfNull(accept);
        var limit = patience ?? DefaultPatience;
        var testCancelled = TestContext.Current.CancellationToken;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(testCancelled);
        timeout.CancelAfter(limit);
        var observed = false;
        T last = default!;
        try
        {
            while (true)
            {
                last = await observe(timeout.Token).ConfigureAwait(false);
                observed = true;
                if (accept(last)) return last;
                await Task.Delay(Interval, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !testCancelled.IsCancellationRequested)
        {
            var seen = observed ? (describe ?? Describe)(last) : "nothing (the first observation did not finish)";
            throw new WaitTimeoutException(
                $"Timed out after {limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s waiting for: {what}. Last observed: {seen}");
        }
    }

    /// <summary>A value as a failure message shows it: null as "null", a collection (not a string) item by item.</summary>
    internal static string Describe<T>(T value) => value switch
    {
        null => "null",
        string s => s,
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Describe)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null",
    };
}

/// <summary>A <see cref="Polling.WaitUntil(Func{bool}, string, TimeSpan?)"/> that ran out of patience: a test failure.</summary>
public sealed class WaitTimeoutException(string message) : XunitException(message);
