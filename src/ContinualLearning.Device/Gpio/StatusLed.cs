using System.Device.Gpio;

namespace ContinualLearning.Device.Gpio;

/// <summary>What the status LED shows.</summary>
public enum LedPattern
{
    /// <summary>Dark: GPIO idle or the daemon stopped.</summary>
    Off,

    /// <summary>Steady on: a model is loaded and serving.</summary>
    Ready,

    /// <summary>Slow blink (1 s period): a training run is in progress.</summary>
    Learning,

    /// <summary>Fast blink (200 ms period): something needs attention (no model, a failed release, a training error).</summary>
    Error,
}

/// <summary>
/// Drives a status LED on one output pin: a steady pattern (<see cref="Pattern"/>) plus one-shot flashes
/// (<see cref="Flash"/>, e.g. 3 fast blinks on promotion) that interrupt it and then hand back to it.
/// A single loop owns the pin, so patterns never fight over it.
/// </summary>
public sealed class StatusLed : IAsyncDisposable
{
    private static readonly TimeSpan SlowHalfPeriod = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan FastHalfPeriod = TimeSpan.FromMilliseconds(100);

    private readonly GpioController _controller;
    private readonly int _pin;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0);
    private readonly Task _loop;
    private volatile LedPattern _pattern = LedPattern.Off;
    private int _pendingFlashes;

    public StatusLed(GpioController controller, int pin, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(controller);
        _controller = controller;
        _pin = pin;
        _time = time ?? TimeProvider.System;
        _controller.OpenPin(pin, PinMode.Output);
        _controller.Write(pin, PinValue.Low);
        _loop = Task.Run(RunAsync);
    }

    public LedPattern Pattern
    {
        get => _pattern;
        set
        {
            if (_pattern == value) return;
            _pattern = value;
            _changed.Release();
        }
    }

    /// <summary>Queues <paramref name="count"/> fast blinks, shown before the steady pattern resumes.</summary>
    public void Flash(int count = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        Interlocked.Add(ref _pendingFlashes, count);
        _changed.Release();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        if (_controller.IsPinOpen(_pin))
        {
            _controller.Write(_pin, PinValue.Low);
            _controller.ClosePin(_pin);
        }
        _stop.Dispose();
        _changed.Dispose();
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        var on = false;
        while (!token.IsCancellationRequested)
        {
            if (Interlocked.Exchange(ref _pendingFlashes, 0) is var flashes and > 0)
            {
                for (var i = 0; i < flashes; i++)
                {
                    Set(true);
                    await Task.Delay(FastHalfPeriod, _time, token).ConfigureAwait(false);
                    Set(false);
                    await Task.Delay(FastHalfPeriod, _time, token).ConfigureAwait(false);
                }
                on = false;
                continue;
            }
            switch (_pattern)
            {
                case LedPattern.Off:
                    Set(false);
                    await _changed.WaitAsync(token).ConfigureAwait(false);
                    break;
                case LedPattern.Ready:
                    Set(true);
                    await _changed.WaitAsync(token).ConfigureAwait(false);
                    break;
                case LedPattern.Learning or LedPattern.Error:
                    on = !on;
                    Set(on);
                    // Wake early when the pattern changes or a flash is queued.
                    await _changed.WaitAsync(_pattern == LedPattern.Learning ? SlowHalfPeriod : FastHalfPeriod, _time, token).ConfigureAwait(false);
                    break;
            }
        }

        void Set(bool value)
        {
            if (_controller.Read(_pin) == (value ? PinValue.High : PinValue.Low)) return;
            _controller.Write(_pin, value ? PinValue.High : PinValue.Low);
        }
    }
}
