using System.Globalization;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// The size of a chaos run. The defaults are the CI run (200 devices, 2,000 deltas over 30 s, within a 120 s budget);
/// a longer run outside CI sets <c>CL_CHAOS_DEVICES</c>, <c>CL_CHAOS_DELTAS</c>, <c>CL_CHAOS_SECONDS</c> (the load phase,
/// during which faults are injected), <c>CL_CHAOS_AGGREGATORS</c> and <c>CL_CHAOS_SEED</c> (to replay a failed run).
/// </summary>
internal sealed record ChaosSettings
{
    public int Devices { get; init; } = 200;

    public int Deltas { get; init; } = 2000;

    public TimeSpan LoadDuration { get; init; } = TimeSpan.FromSeconds(30);

    public int Aggregators { get; init; } = 3;

    public int Seed { get; init; } = Random.Shared.Next();

    /// <summary>Bound on the wait, after the load, for every delta to be aggregated and every canary decided.</summary>
    public TimeSpan DrainPatience => TimeSpan.FromSeconds(40) + LoadDuration / 4;

    public static ChaosSettings FromEnvironment()
    {
        var s = new ChaosSettings();
        return s with
        {
            Devices = Read("CL_CHAOS_DEVICES") ?? s.Devices,
            Deltas = Read("CL_CHAOS_DELTAS") ?? s.Deltas,
            LoadDuration = Read("CL_CHAOS_SECONDS") is { } seconds ? TimeSpan.FromSeconds(seconds) : s.LoadDuration,
            Aggregators = Read("CL_CHAOS_AGGREGATORS") ?? s.Aggregators,
            Seed = Read("CL_CHAOS_SEED") ?? s.Seed,
        };
    }

    private static int? Read(string variable)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        Assert.True(int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0,
            $"{variable}='{text}' is not a positive whole number; unset it for the CI default.");
        return value;
    }

    public override string ToString() =>
        $"seed {Seed} (replay with CL_CHAOS_SEED={Seed}), {Aggregators} aggregators, {Devices} devices, {Deltas} deltas over {LoadDuration.TotalSeconds:0} s";
}
