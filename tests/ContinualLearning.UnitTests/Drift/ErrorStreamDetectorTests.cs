using ContinualLearning.Drift;

namespace ContinualLearning.UnitTests.Drift;

/// <summary>
/// Statistical behaviour of the error-stream detectors. Bounds were measured first (30 seeds, see
/// docs/drift.md) and are stated with margin; the same numbers are in the docs table.
/// </summary>
public sealed class ErrorStreamDetectorTests(ITestOutputHelper output)
{
    public static TheoryData<string, double, double, double, int> Cases => new()
    {
        // name, max mean false alarms per 10k, max mean delay, max single delay, max missed.
        // Measured (30 seeds, p 0.2 stationary; 0.2 -> 0.6 at sample 2000): see docs/drift.md.
        { "adwin", 0.2, 100, 160, 0 }, // measured 0.00, mean 64, max 80
        { "ph", 1.0, 150, 300, 0 },    // measured 0.23, mean 99, max 181
        { "ddm", 1.5, 300, 1500, 0 },  // measured 0.43, mean 150, max 745
    };

    internal static IDriftDetector Create(string name) => name switch
    {
        "adwin" => new Adwin(),
        "ph" => new PageHinkley(),
        "ddm" => new Ddm(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown detector"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stationary_and_abrupt_bernoulli_stay_within_measured_bounds(string name, double maxMeanAlarms, double maxMeanDelay, double maxDelay, int maxMissed)
    {
        var alarms = DetectorHarness.FalseAlarms(() => Create(name), 0.2);
        var delays = DetectorHarness.Delays(() => Create(name), 0.2, 0.6);
        var found = delays.Where(d => d.HasValue).Select(d => d!.Value).ToArray();
        var meanAlarms = alarms.Average();
        output.WriteLine($"{Create(name).Name}: false alarms/10k mean {meanAlarms:F2} max {alarms.Max()} (runs with >=1: {alarms.Count(a => a > 0)}/{alarms.Length}); " +
                         $"delay mean {(found.Length > 0 ? found.Average() : double.NaN):F1} max {(found.Length > 0 ? found.Max() : -1)} min {(found.Length > 0 ? found.Min() : -1)}; missed {delays.Length - found.Length}");
        Assert.True(meanAlarms <= maxMeanAlarms, $"mean false alarms {meanAlarms} > {maxMeanAlarms}");
        Assert.True(delays.Length - found.Length <= maxMissed, $"missed {delays.Length - found.Length} changes");
        Assert.True(found.Average() <= maxMeanDelay, $"mean delay {found.Average()} > {maxMeanDelay}");
        Assert.True(found.Max() <= maxDelay, $"max delay {found.Max()} > {maxDelay}");
    }

    [Fact]
    public void Adwin_shrinks_its_window_to_the_new_concept_after_a_change()
    {
        var rng = new Random(7);
        var adwin = new Adwin();
        for (var i = 0; i < 3000; i++)
        {
            adwin.Update(rng.NextDouble() < 0.2 ? 1 : 0);
        }
        Assert.InRange(adwin.Estimation, 0.17, 0.23);
        Assert.Equal(3000, adwin.Width); // no change, nothing dropped
        for (var i = 0; i < 1500; i++)
        {
            adwin.Update(rng.NextDouble() < 0.6 ? 1 : 0);
        }
        Assert.True(adwin.DetectionCount >= 1);
        Assert.True(adwin.Width < 2000, $"window {adwin.Width} still holds most of the old concept");
        Assert.InRange(adwin.Estimation, 0.5, 0.7);
    }

    [Fact]
    public void Adwin_detects_a_mean_shift_of_a_real_valued_stream()
    {
        var rng = new Random(3);
        var adwin = new Adwin(delta: 0.002);
        var detectedAt = -1;
        for (var i = 0; i < 2000 && detectedAt < 0; i++)
        {
            var mean = i < 1000 ? 0.0 : 1.0;
            adwin.Update(mean + Gaussian(rng) * 0.5);
            if (adwin.DriftDetected)
            {
                detectedAt = i;
            }
        }
        Assert.InRange(detectedAt, 1000, 1100);
    }

    [Theory]
    [InlineData("ph")]
    [InlineData("ddm")]
    public void Detectors_that_restart_forget_the_old_concept_after_a_drift(string name)
    {
        var d = Create(name);
        var rng = new Random(11);
        var i = 0;
        for (; i < 2000; i++)
        {
            d.Update(rng.NextDouble() < 0.1 ? 1 : 0);
        }
        while (!d.DriftDetected)
        {
            d.Update(rng.NextDouble() < 0.7 ? 1 : 0);
            Assert.True(++i < 5000, "no drift detected");
        }
        // Staying at the new level must not keep alarming: the detector restarted on it.
        var alarms = 0;
        for (var k = 0; k < 3000; k++)
        {
            d.Update(rng.NextDouble() < 0.7 ? 1 : 0);
            alarms += d.DriftDetected ? 1 : 0;
        }
        Assert.True(alarms <= 1, $"{alarms} alarms after restarting on a stable stream");
    }

    [Fact]
    public void Ddm_warns_before_it_signals_drift_on_a_gradual_increase()
    {
        var ddm = new Ddm();
        var rng = new Random(5);
        var warnedFirst = false;
        for (var i = 0; i < 20_000; i++)
        {
            var p = i < 3000 ? 0.1 : Math.Min(0.9, 0.1 + (i - 3000) * 0.0001);
            ddm.Update(rng.NextDouble() < p ? 1 : 0);
            if (ddm.WarningDetected)
            {
                warnedFirst = true;
            }
            if (ddm.DriftDetected)
            {
                break;
            }
        }
        Assert.True(ddm.DriftDetected);
        Assert.True(warnedFirst);
    }

    [Fact]
    public void Bad_parameters_and_inputs_are_rejected_with_the_field_name()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Adwin(delta: 2));
        Assert.Contains("delta", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PageHinkley(threshold: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ddm(warningLevel: 3, driftLevel: 2));
        Assert.Throws<ArgumentException>(() => new Adwin().Update(double.NaN));
    }

    internal static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
