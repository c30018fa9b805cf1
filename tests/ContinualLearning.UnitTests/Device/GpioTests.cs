using System.Device.Gpio;
using ContinualLearning.Device.Gpio;

namespace ContinualLearning.UnitTests.Device;

public sealed class GpioTests
{
    [Fact]
    public void Button_press_on_a_pull_up_pin_fires_once_per_press()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        var presses = 0;
        using var button = new LabelButton(controller, 27, () => presses++, debounce: TimeSpan.Zero);
        Assert.Equal(PinValue.High, controller.Read(27)); // pull-up idles high

        driver.Press(27);
        driver.Press(27);

        Assert.Equal(2, presses);
        Assert.Equal(PinValue.High, controller.Read(27));
    }

    [Fact]
    public async Task Led_flashes_three_times_then_shows_the_steady_pattern()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        await using var led = new StatusLed(controller, 17);
        led.Pattern = LedPattern.Ready;
        await WaitUntil(() => driver.ValueOf(17) == PinValue.High, "LED on");
        var before = driver.WriteCount(17);

        led.Flash(3);

        // From steady on: off, then on/off for blinks 2 and 3 (blink 1 reuses the lit LED), then on again for Ready.
        await WaitUntil(() => driver.WriteCount(17) >= before + 6 && driver.ValueOf(17) == PinValue.High, "three blinks and back to steady");
        var highs = driver.Writes.Skip(before).Count(w => w.Pin == 17 && w.Value == PinValue.High);
        Assert.True(highs >= 3, $"expected blink 'on' writes plus the steady one, saw {highs}");
    }

    [Fact]
    public async Task Error_pattern_toggles_the_led()
    {
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        await using var led = new StatusLed(controller, 5);
        led.Pattern = LedPattern.Error;
        await WaitUntil(() => driver.WriteCount(5) >= 5, "LED toggling");
        var values = driver.Writes.Where(w => w.Pin == 5).Skip(1).Take(4).Select(w => w.Value).ToArray();
        for (var i = 1; i < values.Length; i++) Assert.NotEqual(values[i - 1], values[i]);
    }
}
