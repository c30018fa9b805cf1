using System.Globalization;

namespace ContinualLearning.Aggregator.Metrics;

/// <summary>The answer of <c>/health</c>: healthy or not, and one line saying why.</summary>
internal readonly record struct HealthReport(bool Healthy, string Reason);

/// <summary>
/// Judges an aggregator's health for <c>/health</c>: healthy when its inbox is connected to the broker and the registry
/// answered recently — the last registry operation succeeded, within <see cref="Window"/> (every tick runs one: the
/// aggregation transaction). The reason names what is wrong and never a secret: no broker address, credentials,
/// connection string or exception message, only the operation and the exception's type name.
/// </summary>
internal sealed class AggregatorHealth(AggregatorMetrics metrics, TimeSpan window)
{
    private long _startedUtcTicks;

    /// <summary>How long the registry may go without a successful operation: 3 ticks, at least 30 s (a long round must not flap it).</summary>
    public TimeSpan Window { get; } = window;

    /// <summary>For an aggregator that ticks every <paramref name="tick"/>.</summary>
    public static TimeSpan WindowFor(TimeSpan tick) => TimeSpan.FromTicks(Math.Max(3 * tick.Ticks, TimeSpan.FromSeconds(30).Ticks));

    /// <summary>The service has started (its start opened the registry and read the release): the window runs from here until the first tick.</summary>
    public void Started() => Interlocked.Exchange(ref _startedUtcTicks, metrics.Registry.Time.GetUtcNow().UtcTicks);

    public HealthReport Check()
    {
        var startedTicks = Interlocked.Read(ref _startedUtcTicks);
        if (startedTicks == 0) return new(false, "starting: the registry is opening or the broker is not reached yet");
        if (!metrics.BrokerConnected) return new(false, "broker: the inbox is not connected to the MQTT broker (reconnecting)");
        var now = metrics.Registry.Time.GetUtcNow();
        var started = new DateTimeOffset(startedTicks, TimeSpan.Zero);
        var (success, failure) = metrics.Registry.Snapshot();
        if (failure is { } f)
            return new(false, $"registry: the last {f.Operation} failed ({f.ErrorType}) {Seconds(now - f.At)} s ago");
        var last = success is { } s && s > started ? s : started;
        if (now - last > Window)
            return new(false, $"registry: no operation succeeded in the last {Seconds(now - last)} s (limit {Seconds(Window)} s)");
        return new(true, "ok");
    }

    private static string Seconds(TimeSpan t) => Math.Max(0, t.TotalSeconds).ToString("0", CultureInfo.InvariantCulture);
}
