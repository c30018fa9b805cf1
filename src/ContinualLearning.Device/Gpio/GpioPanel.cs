using System.Device.Gpio;
using ContinualLearning.Device.Configuration;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Gpio;

/// <summary>
/// Wires the status LED and the label button to the runtime: learning = slow blink, promoted = 3 fast blinks,
/// error = fast blink, model loaded = steady; a button press confirms the last prediction as its label.
/// </summary>
public sealed partial class GpioPanel : IAsyncDisposable
{
    private readonly GpioController _controller;
    private readonly DeviceRuntime _runtime;
    private readonly bool _ownsController;

    public GpioPanel(DeviceRuntime runtime, GpioController controller, GpioOptions options, ILogger? logger = null, bool ownsController = true, TimeSpan? debounce = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(options);
        _runtime = runtime;
        _controller = controller;
        _ownsController = ownsController;
        if (options.LedPin is { } led)
        {
            Led = new StatusLed(controller, led);
            runtime.StateChanged += UpdateLed;
            runtime.Promoted += _ => Led.Flash(3);
            UpdateLed();
        }
        if (options.ButtonPin is { } button)
        {
            Button = new LabelButton(controller, button, () =>
            {
                if (!runtime.ConfirmLastPrediction() && logger is not null) LogNothingToConfirm(logger);
            }, debounce);
        }
    }

    public StatusLed? Led { get; }

    public LabelButton? Button { get; }

    /// <summary>Opens the configured driver: simulated, or the board's (libgpiod on Linux) via <see cref="GpioController()"/>.</summary>
    public static GpioController OpenController(GpioOptions options, SimulatedGpioDriver? simulated = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Simulated) return new GpioController(simulated ?? new SimulatedGpioDriver());
        try
        {
            return options.Chip == 0 ? new GpioController() : new GpioController(new System.Device.Gpio.Drivers.LibGpiodDriver(options.Chip));
        }
        catch (Exception ex) when (ex is PlatformNotSupportedException or IOException or UnauthorizedAccessException or InvalidOperationException or DllNotFoundException)
        {
            throw new InvalidOperationException($"GPIO could not be opened (gpio:chip = {options.Chip}): {ex.Message}. On a Raspberry Pi add the service user to the 'gpio' group; elsewhere set gpio:enabled=false or gpio:simulated=true.", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _runtime.StateChanged -= UpdateLed;
        if (Led is not null) await Led.DisposeAsync().ConfigureAwait(false);
        Button?.Dispose();
        if (_ownsController) _controller.Dispose();
    }

    private void UpdateLed()
    {
        if (Led is null) return;
        Led.Pattern = _runtime.IsTraining ? LedPattern.Learning
            : _runtime.LastError is not null || !_runtime.HasModel ? LedPattern.Error
            : LedPattern.Ready;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Button pressed, but there is no prediction to confirm.")]
    private static partial void LogNothingToConfirm(ILogger logger);
}
