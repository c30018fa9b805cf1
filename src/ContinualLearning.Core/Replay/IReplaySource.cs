namespace ContinualLearning.Replay;

/// <summary>Something a micro-batch can draw replayed samples from (the store's replay buffer, or an in-memory list in tests).</summary>
public interface IReplaySource
{
    /// <summary>Samples currently held.</summary>
    int Count { get; }

    /// <summary>
    /// Up to <paramref name="count"/> distinct samples chosen uniformly at random with <paramref name="rng"/>
    /// (fewer when fewer are held).
    /// </summary>
    IReadOnlyList<TrainingSample> SampleReplay(int count, Random rng);
}
