using ContinualLearning.Learning;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Storage;

/// <summary>
/// The ingest and training paths must not allocate a copy of every sample's features on the GC heap: during a
/// 12,000-sample burst those short-lived arrays are what fills gen 2 (docs/benchmarks.md, "Live heap during the burst").
/// Bounds are in bytes allocated on this thread, well below one feature copy per sample, so a per-sample byte[] or
/// float[] makes them fail.
/// </summary>
public sealed class StoreAllocationTests : IDisposable
{
    private const int Width = 128;
    private readonly ShmDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AddLabelled_allocation_does_not_grow_with_the_feature_width()
    {
        // Microsoft.Data.Sqlite costs about 1 KB per statement whatever the row; a per-sample blob would add 4 bytes
        // per feature on top, so 1,024 features would cost 3.5 KB more per sample than 128.
        var narrow = AddLabelledBytesPerSample(Width);
        var wide = AddLabelledBytesPerSample(1_024);

        Assert.True(wide - narrow < 1_024, $"AddLabelled allocated {narrow:0} bytes per sample at {Width} features and {wide:0} at 1,024.");
    }

    [Fact]
    public void Replay_offer_allocation_does_not_grow_with_the_feature_width()
    {
        var narrow = OfferBytesPerSample(Width);
        var wide = OfferBytesPerSample(1_024);

        Assert.True(wide - narrow < 1_024, $"Offering to the replay buffer allocated {narrow:0} bytes per sample at {Width} features and {wide:0} at 1,024.");
    }

    private static double AddLabelledBytesPerSample(int width)
    {
        using var dir = new ShmDirectory();
        using var store = new SampleStore(dir.Options(width, 10) with { MaxRows = 20_000 });
        var features = Samples.Features(1, width);
        for (var i = 0; i < 100; i++) store.AddLabelled(features, SampleLabel.Class(i % 10)); // warm-up (JIT, statement caches)
        const int n = 2_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < n; i++) store.AddLabelled(features, SampleLabel.Class(i % 10));
        var perSample = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)n;
        Assert.Equal(n + 100, store.GetStats().Rows);
        return perSample;
    }

    private static double OfferBytesPerSample(int width)
    {
        // The daemon's configuration: 10,000 replay slots, offered in training-run-sized chunks.
        const int n = 10_000;
        using var dir = new ShmDirectory();
        using var store = new SampleStore(dir.Options(width, 10) with { ReplayCapacity = n });
        var samples = Enumerable.Range(0, n).Select(i => new TrainingSample(i, Samples.Features(i, width), SampleLabel.Class(i % 10))).ToArray();
        store.Replay.Offer(samples[..10]); // warm-up
        store.Replay.Clear();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var start = 0; start < n; start += 1_000) store.Replay.Offer(samples[start..(start + 1_000)]);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(n, store.Replay.Count);
        // Every row still reads back as the features offered, through the shared buffer.
        var held = store.Replay.SampleReplay(500, new Random(3));
        Assert.All(held, s => Assert.Equal(Samples.Features((int)s.Id, width), s.Features));
        return allocated / (double)n;
    }

    [Fact]
    public void TakeFreshBatch_returns_each_row_with_its_own_features()
    {
        // Rows are read through one scratch buffer: each sample must still get its own array with its own values.
        using var store = new SampleStore(_dir.Options(Width, 10));
        var ids = Enumerable.Range(0, 300).Select(i => store.AddLabelled(Samples.Features(i, Width), SampleLabel.Class(i % 10))).ToArray();

        var batch = store.TakeFreshBatch(300);

        Assert.Equal(ids, batch.Select(s => s.Id));
        for (var i = 0; i < batch.Count; i++)
        {
            Assert.Equal(Samples.Features(i, Width), batch[i].Features);
            Assert.Equal(i % 10, batch[i].Label.ClassIndex);
        }
        Assert.Equal(300, batch.Select(s => s.Features).Distinct(ReferenceEqualityComparer.Instance).Count());
    }

    [Fact]
    public void Scoring_a_holdout_in_blocks_matches_row_by_row_and_stays_off_the_large_object_heap()
    {
        var spec = new HeadSpec([Width, 256, 10], LossKind.SoftmaxCrossEntropy);
        using var model = new ManagedEngine().Create(spec, new TrainingOptions(), seed: 5);
        var rng = new Random(4);
        // 205 rows: the holdout of a 1,024-sample run; not a multiple of the block size.
        var holdout = Enumerable.Range(0, 205).Select(i =>
        {
            var f = new float[Width];
            for (var d = 0; d < Width; d++) f[d] = (float)(rng.NextDouble() * 2 - 1);
            return new TrainingSample(i, f, SampleLabel.Class(rng.Next(10)));
        }).ToArray();
        var output = new float[10];
        var correct = 0;
        foreach (var s in holdout)
        {
            model.Predict(s.Features, 1, output);
            if (ChallengerTrainer.PredictedClass(spec, output) == s.Label.ClassIndex) correct++;
        }
        ChallengerTrainer.Score(model, holdout[..40], DecisionMetric.Accuracy); // warm-up (JIT, the model's 32-row buffers)

        var before = GC.GetAllocatedBytesForCurrentThread();
        var accuracy = ChallengerTrainer.Score(model, holdout, DecisionMetric.Accuracy);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal((double)correct / holdout.Length, accuracy);
        // One 205×128 input alone would be 105 KB (large object heap); growing the model's buffers to 256 rows ~800 KB.
        Assert.True(allocated < 85_000, $"Scoring 205 rows allocated {allocated:N0} bytes.");
    }
}
