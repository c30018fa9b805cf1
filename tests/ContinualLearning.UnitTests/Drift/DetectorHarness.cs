using ContinualLearning.Drift;

namespace ContinualLearning.UnitTests.Drift;

/// <summary>Runs detectors on seeded Bernoulli error streams: false alarms on a stationary stream, delay after an abrupt change.</summary>
internal static class DetectorHarness
{
    public const int Seeds = 30;
    public const int StationaryLength = 10_000;
    public const int ChangeAt = 2_000;
    public const int AfterChange = 3_000;

    /// <summary>Alarm count per seed on a stationary Bernoulli(p) stream of <see cref="StationaryLength"/>.</summary>
    public static int[] FalseAlarms(Func<IDriftDetector> create, double p)
    {
        var alarms = new int[Seeds];
        for (var seed = 0; seed < Seeds; seed++)
        {
            var rng = new Random(seed);
            var d = create();
            for (var i = 0; i < StationaryLength; i++)
            {
                d.Update(rng.NextDouble() < p ? 1 : 0);
                if (d.DriftDetected)
                {
                    alarms[seed]++;
                }
            }
        }
        return alarms;
    }

    /// <summary>Samples from the change until the first alarm, per seed (null = missed within <see cref="AfterChange"/>).</summary>
    public static int?[] Delays(Func<IDriftDetector> create, double before, double after)
    {
        var delays = new int?[Seeds];
        for (var seed = 0; seed < Seeds; seed++)
        {
            // Different seeds from the stationary runs so the two measurements are independent.
            var rng = new Random(1000 + seed);
            var d = create();
            for (var i = 0; i < ChangeAt + AfterChange; i++)
            {
                var p = i < ChangeAt ? before : after;
                d.Update(rng.NextDouble() < p ? 1 : 0);
                if (d.DriftDetected && i >= ChangeAt)
                {
                    delays[seed] = i - ChangeAt + 1;
                    break;
                }
            }
        }
        return delays;
    }
}
