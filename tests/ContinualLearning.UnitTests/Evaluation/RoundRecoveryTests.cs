using ContinualLearning.Evaluation;

namespace ContinualLearning.UnitTests.Evaluation;

/// <summary>
/// The federated drift benchmark's recovery measures on per-round accuracy series: rounds until a target is first
/// reached, a settled level, and the shortfall below a target.
/// </summary>
public sealed class RoundRecoveryTests
{
    // Drift at round 4: 0.9 before, a dip to 0.5, back to 0.9 at round 7 (3 rounds after the drift).
    private static readonly double[] Series = [0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.8, 0.9, 0.9, 0.9];

    [Fact]
    public void Rounds_to_reach_counts_from_the_drift_to_the_first_round_at_or_above_the_target()
    {
        Assert.Equal(3, RoundRecovery.RoundsToReach(Series, drift: 4, target: 0.9, horizon: 6));
        Assert.Equal(2, RoundRecovery.RoundsToReach(Series, 4, 0.8, 6)); // equal to the target counts as reached
        Assert.Equal(0, RoundRecovery.RoundsToReach(Series, 4, 0.5, 6)); // no drop below it: 0
        // The first round it is reached, whatever follows: the dip at round 2 does not move it to 3.
        Assert.Equal(1, RoundRecovery.RoundsToReach([0.5, 0.7, 0.4, 0.7], 0, 0.7, 4));
    }

    [Fact]
    public void Rounds_to_reach_is_the_horizon_when_the_target_is_not_reached_within_it_or_before_the_end()
    {
        Assert.Equal(3, RoundRecovery.RoundsToReach(Series, 4, 0.9, horizon: 3)); // reached at k 3, outside k 0..2
        Assert.Equal(20, RoundRecovery.RoundsToReach(Series, 4, 0.95, horizon: 20)); // never, and the series ends first
    }

    [Fact]
    public void Settled_level_and_shortfall()
    {
        Assert.Equal(0.9, RoundRecovery.SettledLevel(Series, 0, 4), 12);
        Assert.Equal((0.5 + 0.6 + 0.8) / 3, RoundRecovery.SettledLevel(Series, 4, 3), 12);
        Assert.Equal(0.9, RoundRecovery.SettledLevel(Series, 8, 10), 12); // cut at the end: rounds 8 and 9
        // Below 0.88 for three rounds: 0.38 + 0.28 + 0.08; rounds at or above it add nothing.
        Assert.Equal(0.74, RoundRecovery.Shortfall(Series, 4, 0.88, 10), 12);
        Assert.Equal(0.38, RoundRecovery.Shortfall(Series, 4, 0.88, 1), 12);
        Assert.Equal(0, RoundRecovery.Shortfall(Series, 0, 0.88, 4));
    }

    [Fact]
    public void Bad_input_is_refused_with_the_value()
    {
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => RoundRecovery.RoundsToReach(Series, 10, 0.9, 5));
        Assert.Contains("0..9", outside.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => RoundRecovery.RoundsToReach(Series, 4, double.NaN, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => RoundRecovery.RoundsToReach(Series, 4, 0.9, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RoundRecovery.SettledLevel(Series, -1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => RoundRecovery.Shortfall(Series, 4, 0.9, 0));
    }
}
