using System.Device.Gpio;

namespace ContinualLearning.Device.Gpio;

/// <summary>
/// A <see cref="GpioDriver"/> with no hardware behind it: pins hold values in memory, writes are recorded, and
/// <see cref="Press"/> / <see cref="SetInput"/> drive an input pin as a wired button would (raising the rising/falling
/// callbacks a real driver raises). Used through <c>new GpioController(driver)</c> in tests and on machines without
/// GPIO, so the same LED and button code runs everywhere.
/// </summary>
public sealed class SimulatedGpioDriver : GpioDriver
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, PinMode> _modes = [];
    private readonly Dictionary<int, PinValue> _values = [];
    private readonly Dictionary<int, List<(PinEventTypes Types, PinChangeEventHandler Handler)>> _callbacks = [];
    private readonly List<(int Pin, PinValue Value)> _writes = [];

    public SimulatedGpioDriver(int pinCount = 64)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pinCount);
        PinCount = pinCount;
    }

    /// <inheritdoc />
    protected override int PinCount { get; }

    /// <summary>Every value written to an output pin, in order (to observe LED patterns).</summary>
    public IReadOnlyList<(int Pin, PinValue Value)> Writes
    {
        get
        {
            lock (_lock) return _writes.ToArray();
        }
    }

    /// <summary>Number of writes to <paramref name="pin"/> so far.</summary>
    public int WriteCount(int pin)
    {
        lock (_lock) return _writes.Count(w => w.Pin == pin);
    }

    /// <summary>Raised after every write to an output pin.</summary>
    public event Action<int, PinValue>? Written;

    /// <summary>Current value of a pin (what an LED shows).</summary>
    public PinValue ValueOf(int pin)
    {
        lock (_lock) return _values.GetValueOrDefault(pin, PinValue.Low);
    }

    /// <summary>Sets an input pin's level, raising the matching edge callback when the level changes.</summary>
    public void SetInput(int pin, PinValue value)
    {
        List<(PinEventTypes Types, PinChangeEventHandler Handler)> targets;
        PinEventTypes edge;
        lock (_lock)
        {
            CheckOpen(pin);
            var old = _values.GetValueOrDefault(pin, PinValue.Low);
            _values[pin] = value;
            if (old == value) return;
            edge = value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
            targets = _callbacks.TryGetValue(pin, out var list) ? list.Where(c => (c.Types & edge) != 0).ToList() : [];
        }
        foreach (var (_, handler) in targets)
            handler(this, new PinValueChangedEventArgs(edge, pin));
    }

    /// <summary>
    /// A button press and release. With a pull-up input (button to ground, the usual wiring) a press pulls the pin low;
    /// with a pull-down it drives it high. The pin ends at its idle level.
    /// </summary>
    public void Press(int pin)
    {
        PinMode mode;
        lock (_lock) mode = _modes.GetValueOrDefault(pin, PinMode.Input);
        var idle = mode == PinMode.InputPullUp ? PinValue.High : PinValue.Low;
        var active = idle == PinValue.High ? PinValue.Low : PinValue.High;
        SetInput(pin, idle);
        SetInput(pin, active);
        SetInput(pin, idle);
    }

    /// <inheritdoc />
    protected override void OpenPin(int pinNumber)
    {
        CheckRange(pinNumber);
        lock (_lock)
        {
            _modes.TryAdd(pinNumber, PinMode.Input);
            _values.TryAdd(pinNumber, PinValue.Low);
        }
    }

    /// <inheritdoc />
    protected override void ClosePin(int pinNumber)
    {
        lock (_lock)
        {
            _modes.Remove(pinNumber);
            _callbacks.Remove(pinNumber);
        }
    }

    /// <inheritdoc />
    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        lock (_lock)
        {
            CheckOpen(pinNumber);
            _modes[pinNumber] = mode;
            // A pull-up input idles high, as it would on a real board with the button open.
            if (mode == PinMode.InputPullUp) _values[pinNumber] = PinValue.High;
            else if (mode == PinMode.InputPullDown) _values[pinNumber] = PinValue.Low;
        }
    }

    /// <inheritdoc />
    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (_lock)
        {
            CheckOpen(pinNumber);
            return _modes[pinNumber];
        }
    }

    /// <inheritdoc />
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Input or PinMode.Output or PinMode.InputPullUp or PinMode.InputPullDown;

    /// <inheritdoc />
    protected override PinValue Read(int pinNumber)
    {
        lock (_lock)
        {
            CheckOpen(pinNumber);
            return _values[pinNumber];
        }
    }

    /// <inheritdoc />
    protected override void Toggle(int pinNumber) => Write(pinNumber, !Read(pinNumber));

    /// <inheritdoc />
    protected override void Write(int pinNumber, PinValue value)
    {
        lock (_lock)
        {
            CheckOpen(pinNumber);
            _values[pinNumber] = value;
            _writes.Add((pinNumber, value));
        }
        Written?.Invoke(pinNumber, value);
    }

    /// <inheritdoc />
    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        using var fired = new ManualResetEventSlim();
        PinEventTypes seen = PinEventTypes.None;
        void Handler(object sender, PinValueChangedEventArgs e)
        {
            seen = e.ChangeType;
            fired.Set();
        }
        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, Handler);
        try
        {
            fired.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = seen, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            RemoveCallbackForPinValueChangedEvent(pinNumber, Handler);
        }
    }

    /// <inheritdoc />
    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (_lock)
        {
            CheckOpen(pinNumber);
            if (!_callbacks.TryGetValue(pinNumber, out var list)) _callbacks[pinNumber] = list = [];
            list.Add((eventTypes, callback));
        }
    }

    /// <inheritdoc />
    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (_lock)
        {
            if (_callbacks.TryGetValue(pinNumber, out var list)) list.RemoveAll(c => c.Handler == callback);
        }
    }

    private void CheckRange(int pin)
    {
        if (pin < 0 || pin >= PinCount)
            throw new ArgumentOutOfRangeException(nameof(pin), pin, $"The simulated GPIO has pins 0–{PinCount - 1}.");
    }

    private void CheckOpen(int pin)
    {
        if (!_modes.ContainsKey(pin))
            throw new InvalidOperationException($"GPIO pin {pin} is not open.");
    }
}
