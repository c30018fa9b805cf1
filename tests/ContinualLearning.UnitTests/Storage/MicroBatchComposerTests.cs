using ContinualLearning.Replay;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Storage;

public sealed class MicroBatchComposerTests
{
    private sealed class ListReplay(IReadOnlyList<TrainingSample> items) : IReplaySource
    {
        public int Count => items.Count;

        public IReadOnlyList<TrainingSample> SampleReplay(int count, Random rng) =>
            items.OrderBy(_ => rng.Next()).Take(count).ToArray();
    }

    private static TrainingSample Sample(long id, int cls) => new(id, [id, id + 0.5f, -id], SampleLabel.Class(cls));

    private static readonly HeadSpec Softmax = new([3, 4], LossKind.SoftmaxCrossEntropy);

    [Fact]
    public void Half_replay_ratio_mixes_every_fresh_sample_once_with_replayed_ones()
    {
        var fresh = Enumerable.Range(0, 20).Select(i => Sample(i, i % 4)).ToArray();
        var replay = new ListReplay(Enumerable.Range(1000, 50).Select(i => Sample(i, i % 4)).ToArray());
        var composer = new MicroBatchComposer(Softmax, batchSize: 8, replayRatio: 0.5);

        var seenFresh = new List<long>();
        var batches = 0;
        foreach (var batch in composer.Compose(fresh, replay, new Random(1)))
        {
            batches++;
            Assert.Equal(4, batch.FreshCount);
            Assert.Equal(4, batch.ReplayCount);
            Assert.Equal(8 * 3, batch.X.Length);
            Assert.Equal(8, batch.Targets.Length);
            for (var row = 0; row < batch.Count; row++)
            {
                // Row layout: features [id, id+0.5, -id], target = class index.
                var id = (long)batch.X[row * 3];
                Assert.Equal(id + 0.5f, batch.X[row * 3 + 1]);
                Assert.Equal(-id, batch.X[row * 3 + 2]);
                Assert.Equal(id % 4, batch.Targets[row]);
                if (row < batch.FreshCount) seenFresh.Add(id);
                else Assert.InRange(id, 1000, 1049);
            }
        }
        Assert.Equal(5, batches);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), seenFresh.Order());
        Assert.NotEqual(Enumerable.Range(0, 20).Select(i => (long)i), seenFresh);
    }

    [Fact]
    public void The_last_partial_batch_keeps_the_ratio_and_an_empty_replay_gives_full_fresh_batches()
    {
        var fresh = Enumerable.Range(0, 10).Select(i => Sample(i, 0)).ToArray();
        var replay = new ListReplay(Enumerable.Range(100, 30).Select(i => Sample(i, 1)).ToArray());
        var composer = new MicroBatchComposer(Softmax, batchSize: 8, replayRatio: 0.25);
        Assert.Equal(2, composer.ReplayPerBatch);
        var shape = composer.Compose(fresh, replay, new Random(2)).Select(b => (b.FreshCount, b.ReplayCount)).ToArray();
        Assert.Equal([(6, 2), (4, 1)], shape);

        var allFresh = composer.Compose(fresh, new ListReplay([]), new Random(2)).Select(b => (b.FreshCount, b.ReplayCount)).ToArray();
        Assert.Equal([(8, 0), (2, 0)], allFresh);
    }

    [Fact]
    public void Targets_follow_the_head_loss()
    {
        var fresh = new[] { Sample(1, 2) };
        var bce = new MicroBatchComposer(new HeadSpec([3, 3], LossKind.BinaryCrossEntropy), 4, 0);
        Assert.Equal([0f, 0f, 1f], bce.Compose(fresh, null, new Random(0)).Single().Targets.ToArray());

        var mse = new MicroBatchComposer(new HeadSpec([3, 2], LossKind.MeanSquaredError), 4, 0);
        var values = new[] { new TrainingSample(1, [1, 2, 3], SampleLabel.FromValues([0.25f, -4f])) };
        Assert.Equal([0.25f, -4f], mse.Compose(values, null, new Random(0)).Single().Targets.ToArray());
    }

    [Fact]
    public void A_sample_that_does_not_fit_the_head_is_named()
    {
        var composer = new MicroBatchComposer(Softmax, 4, 0);
        var wide = new[] { new TrainingSample(77, [1, 2, 3, 4, 5], SampleLabel.Class(0)) };
        var e = Assert.Throws<ArgumentException>(() => composer.Compose(wide, null, new Random(0)).ToList());
        Assert.Contains("Sample 77 has 5 features", e.Message);
        var badClass = new[] { Sample(78, 9) };
        var e2 = Assert.Throws<ArgumentException>(() => composer.Compose(badClass, null, new Random(0)).ToList());
        Assert.Contains("Sample 78: Class 9 is outside the head's 4 outputs", e2.Message);
    }

    [Theory]
    [InlineData(0, 0.5, "batchSize")]
    [InlineData(8, 1.0, "replayRatio")]
    [InlineData(8, -0.1, "replayRatio")]
    public void Invalid_composer_settings_are_refused(int batchSize, double ratio, string param)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MicroBatchComposer(Softmax, batchSize, ratio));
        Assert.Equal(param, e.ParamName);
    }
}
