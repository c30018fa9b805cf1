using System.Diagnostics.Metrics;

namespace ContinualLearning.Diagnostics;

/// <summary>
/// Totals of chosen <see cref="Counter{T}"/> instruments since this object was made, read back from the meter. A
/// counter cannot be read, and a part that shows a count (a status report, telemetry) must not count it a second time:
/// the instrument is the one place the number is counted, and this is one more listener of it, like an exporter.
/// Create it before the first measurement it should see. Thread safe.
/// </summary>
public sealed class CounterTotals : IDisposable
{
    private readonly Dictionary<Instrument, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly long[] _totals;
    private readonly MeterListener _listener = new();

    /// <summary>Starts listening to <paramref name="counters"/>.</summary>
    public CounterTotals(params IReadOnlyList<Counter<long>> counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        for (var i = 0; i < counters.Count; i++) _index.Add(counters[i], i);
        _totals = new long[counters.Count];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_index.TryGetValue(instrument, out var i)) listener.EnableMeasurementEvents(instrument, i);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, state) => Interlocked.Add(ref _totals[(int)state!], value));
        _listener.Start();
    }

    /// <summary>The total of <paramref name="counter"/> (one of those given to the constructor), all label sets together.</summary>
    public long this[Counter<long> counter] => Interlocked.Read(ref _totals[_index[counter]]);

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener.Dispose();
}
