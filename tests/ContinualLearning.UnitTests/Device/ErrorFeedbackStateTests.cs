using ContinualLearning.Deltas;
using ContinualLearning.Device.Agent;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The agent's delta bookkeeping: the unsent residual outlives a release, not a wipe or an architecture change.</summary>
public sealed class ErrorFeedbackStateTests : IDisposable
{
    private static readonly DeltaCompressionOptions TopTenPercent = new(0.1, DeltaEncoding.Int8);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-efstate-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string StatePath => Path.Combine(_dir, "feedback.safetensors");

    private static NamedTensor[] Weights(int n, Func<int, float> value) =>
        [new NamedTensor("w", [n], Enumerable.Range(0, n).Select(value).ToArray())];

    [Fact]
    public void Residual_is_kept_across_a_release_and_sent_on_the_new_base()
    {
        var state = ErrorFeedbackState.Load(StatePath);
        var base1 = Weights(100, _ => 0f);
        var champion = Weights(100, i => 1f + i / 100f);
        var first = state.Next("1.0.0", base1, champion, TopTenPercent);
        Assert.Equal(10, first[0].Count);
        var residual = state.ResidualNorm;
        Assert.True(residual > 1, $"residual {residual}");

        state.Rebase("1.1.0");
        var reloaded = ErrorFeedbackState.Load(StatePath);
        Assert.Equal("1.1.0", reloaded.BaseVersion);
        Assert.Equal(residual, reloaded.ResidualNorm, 4);

        // No new learning on the new base: what goes out is the old residual's largest coordinates.
        var base2 = Weights(100, i => 2f + i);
        var sent = reloaded.Next("1.1.0", base2, base2, TopTenPercent)[0];
        Assert.Equal(10, sent.Count);
        // The first delta carried i = 90–99 (the largest); the largest left in the residual are i = 80–89.
        Assert.All(sent.Indices!, i => Assert.InRange(i, 80, 89));
        Assert.True(reloaded.ResidualNorm < residual);
    }

    [Fact]
    public void Reset_and_an_architecture_change_drop_the_residual()
    {
        var state = ErrorFeedbackState.Load(StatePath);
        state.Next("1.0.0", Weights(100, _ => 0f), Weights(100, _ => 1f), TopTenPercent);
        Assert.True(state.ResidualNorm > 0);
        state.Reset("1.0.0");
        Assert.Equal(0, state.ResidualNorm);

        state.Next("1.0.0", Weights(100, _ => 0f), Weights(100, _ => 1f), TopTenPercent);
        state.Rebase("2.0.0");
        // The new release has a different shape: the old residual would not fit, so it is dropped instead of failing.
        var sent = state.Next("2.0.0", Weights(50, _ => 0f), Weights(50, _ => 0f), TopTenPercent);
        Assert.All(sent[0].Values, v => Assert.Equal(0f, v));
        Assert.Equal(0, state.ResidualNorm);
    }
}
