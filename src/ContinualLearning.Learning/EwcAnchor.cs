using ContinualLearning.Replay;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Learning;

/// <summary>
/// The device learner's EWC: before a run, the diagonal Fisher of the champion on replay-buffer samples, anchored at
/// the champion's weights. The replay buffer is the device's memory of its old classes and conditions, so the
/// penalty resists exactly the moves that would cost them (online EWC: each run re-anchors at the current champion).
/// </summary>
internal static class EwcAnchor
{
    /// <summary>
    /// The penalty for a challenger of <paramref name="spec"/> starting from <paramref name="championWeights"/>, and the
    /// replay samples it cost (each one sample-gradient); null with 0 when EWC is off or the buffer is empty.
    /// </summary>
    public static (EwcPenalty? Penalty, int Samples) Estimate(ITrainingEngine engine, HeadSpec spec, TrainingOptions trainingOptions,
        IReadOnlyList<NamedTensor> championWeights, IReplaySource? replay, float lambda, int samples, int seed)
    {
        if (lambda <= 0 || replay is not { Count: > 0 }) return (null, 0);
        var drawn = replay.SampleReplay(Math.Min(samples, replay.Count), new Random(seed));
        if (drawn.Count == 0) return (null, 0);
        var x = new float[drawn.Count * spec.InputSize];
        var targets = new float[drawn.Count * spec.TargetWidth];
        for (var i = 0; i < drawn.Count; i++)
        {
            drawn[i].Features.CopyTo(x.AsSpan(i * spec.InputSize, spec.InputSize));
            TargetEncoder.Write(spec, drawn[i].Label, targets.AsSpan(i * spec.TargetWidth, spec.TargetWidth));
        }
        using var champion = engine.Create(spec, trainingOptions, championWeights);
        var fisher = champion.FisherDiagonal(x, targets, drawn.Count);
        return (new EwcPenalty([.. championWeights.Select(t => t.Clone())], fisher, lambda), drawn.Count);
    }
}
