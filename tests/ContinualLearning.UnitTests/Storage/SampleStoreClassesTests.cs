using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.UnitTests.Storage;

/// <summary>Changing a store's label set: samples and replay rows follow their class, dropped classes go, the policy resumes.</summary>
public sealed class SampleStoreClassesTests : IDisposable
{
    private readonly ShmDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private SampleStoreOptions Balanced(int labelCount = 3) => _dir.Options(labelCount: labelCount) with { ReplayPolicy = ReplayPolicyKind.ClassBalanced };

    private static Dictionary<int, int> Classes(IEnumerable<TrainingSample> samples) =>
        samples.GroupBy(s => s.Label.ClassIndex).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public void Classes_move_and_drop_in_samples_and_replay_and_the_store_reopens_with_the_new_count()
    {
        var store = new SampleStore(Balanced());
        // 12 samples, 4 per class: 6 used and offered to replay (2 per class), 6 left fresh; one pending prediction.
        store.AddLabelledBatch(Samples.Batch(12));
        var used = store.TakeFreshBatch(6);
        store.Replay.Offer(used);
        store.MarkUsed(used.Select(s => s.Id));
        var pending = store.LogPrediction(Samples.Features(99), [0.2f, 0.3f, 0.5f], "v1");

        // Class 0 stays, 1 is dropped, 2 moves to 3; the new set has 4 classes.
        using var remapped = store.RemapClasses([0, -1, 3], 4);
        Assert.Throws<ObjectDisposedException>(() => store.GetStats());
        Assert.Equal(4, remapped.Options.LabelCount);
        Assert.Equal(4, remapped.Replay.Count);
        Assert.Equal(new Dictionary<int, int> { [0] = 2, [3] = 2 }, Classes(remapped.Replay.SampleReplay(16, new Random(1))));
        Assert.Equal(new Dictionary<int, int> { [0] = 2, [3] = 2 }, Classes(remapped.TakeFreshBatch(100)));
        // The new classes are accepted, and the pending prediction can still be labelled.
        remapped.AddLabelled(Samples.Features(5), SampleLabel.Class(2));
        remapped.AddLabel(pending, SampleLabel.Class(3));
        // The class-balanced policy resumed over the surviving slots (no gap left by the dropped rows): offering more
        // fills the buffer, then evens the four classes out.
        remapped.Replay.Offer([.. Enumerable.Range(0, 40).Select(i => new TrainingSample(100 + i, Samples.Features(i), SampleLabel.Class(i % 4)))]);
        Assert.Equal(16, remapped.Replay.Count);
        Assert.All(Classes(remapped.Replay.SampleReplay(16, new Random(2))).Values, n => Assert.Equal(4, n));
    }

    [Fact]
    public void A_remapped_database_reopens_with_the_new_count_and_refuses_the_old_one()
    {
        var store = new SampleStore(Balanced());
        store.AddLabelledBatch(Samples.Batch(3));
        store.RemapClasses([0, 1, 2], 4).Dispose();
        using (var reopened = new SampleStore(Balanced(4)))
            Assert.Equal(3, reopened.GetStats().Fresh);
        Assert.Throws<SampleStoreConfigurationException>(() => new SampleStore(Balanced(3)));
    }

    [Fact]
    public void Bad_maps_are_refused()
    {
        using var store = new SampleStore(Balanced());
        Assert.Throws<ArgumentException>(() => store.RemapClasses([0, 1], 3));
        Assert.Throws<ArgumentException>(() => store.RemapClasses([0, 0, 1], 3));
        Assert.Throws<ArgumentException>(() => store.RemapClasses([0, 1, 3], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.RemapClasses([-1, -1, -1], 0));
        using var values = new SampleStore(_dir.Options() with { DatabasePath = _dir.Db + ".values", LabelKind = StoreLabelKind.Values });
        Assert.Throws<InvalidOperationException>(() => values.RemapClasses([0, 1, 2], 3));
    }
}
