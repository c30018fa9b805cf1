using System.Device.Gpio;

namespace ContinualLearning.Device.Gpio;

/// <summary>
/// A push button wired from an input pin to ground (internal pull-up): each press (falling edge) invokes the
/// handler once. Edges within the debounce interval of the previous press are contact bounce and ignored.
/// </summary>
public sealed class LabelButton : IDisposable
{
    private readonly GpioController _controller;
    private readonly int _pin;
    private readonly Action _onPress;
    private readonly TimeProvider _time;
    private readonly TimeSpan _debounce;
    private long _lastPress = long.MinValue;

    public LabelButton(GpioController controller, int pin, Action onPress, TimeSpan? debounce = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(onPress);
        _controller = controller;
        _pin = pin;
        _onPress = onPress;
        _time = time ?? TimeProvider.System;
        _debounce = debounce ?? TimeSpan.FromMilliseconds(50);
        _controller.OpenPin(pin, PinMode.InputPullUp);
        _controller.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Falling, OnEdge);
    }

    /// <summary>Presses accepted so far.</summary>
    public long Presses { get; private set; }

    public void Dispose()
    {
        if (!_controller.IsPinOpen(_pin)) return;
        _controller.UnregisterCallbackForPinValueChangedEvent(_pin, OnEdge);
        _controller.ClosePin(_pin);
    }

    private void OnEdge(object sender, PinValueChangedEventArgs e)
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastPress);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < _debounce) return;
        Interlocked.Exchange(ref _lastPress, now);
        Presses++;
        _onPress();
    }
}
