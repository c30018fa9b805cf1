using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.UnitTests.Storage;

public sealed class ReplayBufferTests : IDisposable
{
    private readonly ShmDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static TrainingSample Sample(long id, int cls, int width = 4) => new(id, Samples.Features((int)id, width), SampleLabel.Class(cls));

    [Fact]
    public void Reservoir_in_the_store_keeps_a_uniform_sample_of_the_stream()
    {
        // One seeded run: 20,000 samples offered in training-run-sized chunks into 1,000 slots. Each decile of the
        // stream should hold about 100; chi² over the 10 deciles must stay under the p = 0.001 bound (27.88, 9 df).
        const int n = 20_000, k = 1_000;
        using var store = new SampleStore(_dir.Options() with { ReplayCapacity = k, ReplaySeed = 42 });
        for (var start = 0; start < n; start += 250)
            store.Replay.Offer(Enumerable.Range(start, 250).Select(i => Sample(i, i % 3)).ToArray());

        Assert.Equal(k, store.Replay.Count);
        Assert.Equal(n, store.Replay.Seen);
        var held = store.Replay.SampleReplay(k, new Random(1));
        Assert.Equal(k, held.Select(s => s.Id).Distinct().Count());
        var perDecile = new long[10];
        foreach (var s in held) perDecile[s.Id / (n / 10)]++;
        var chi = ReplayPolicyTests.ChiSquare(perDecile, k / 10.0);
        Assert.True(chi < ReplayPolicyTests.ChiSquare9At001, $"chi² = {chi:F1}; kept per decile: {string.Join(", ", perDecile)}");
        // The replayed features are the ones offered.
        Assert.All(held, s => Assert.Equal(Samples.Features((int)s.Id), s.Features));
    }

    [Fact]
    public void Class_balanced_in_the_store_keeps_classes_equal()
    {
        using var store = new SampleStore(_dir.Options() with { ReplayCapacity = 60, ReplayPolicy = ReplayPolicyKind.ClassBalanced });
        var rng = new Random(9);
        var id = 0;
        for (var run = 0; run < 20; run++)
        {
            var batch = Enumerable.Range(0, 100).Select(_ =>
            {
                var u = rng.NextDouble();
                return Sample(id++, u < 0.7 ? 0 : u < 0.9 ? 1 : 2);
            }).ToArray();
            store.Replay.Offer(batch);
        }
        var counts = store.Replay.CountByClass();
        Assert.Equal(new Dictionary<int, int> { [0] = 20, [1] = 20, [2] = 20 }, counts);
        // Drawing the whole buffer returns the same balance, read back from the blobs and label columns.
        var all = store.Replay.SampleReplay(60, new Random(2));
        Assert.Equal([20, 20, 20], all.GroupBy(s => s.Label.ClassIndex).OrderBy(g => g.Key).Select(g => g.Count()));
    }

    [Fact]
    public void Replay_survives_a_restart_and_keeps_deciding_from_where_it_was()
    {
        var options = _dir.Options() with { ReplayCapacity = 10 };
        using (var store = new SampleStore(options))
            store.Replay.Offer(Enumerable.Range(0, 50).Select(i => Sample(i, 0)).ToArray());
        using var reopened = new SampleStore(options);
        Assert.Equal(10, reopened.Replay.Count);
        Assert.Equal(50, reopened.Replay.Seen);
        reopened.Replay.Offer(Enumerable.Range(50, 50).Select(i => Sample(i, 1)).ToArray());
        Assert.Equal(10, reopened.Replay.Count);
        Assert.Equal(100, reopened.Replay.Seen);
    }

    [Fact]
    public void A_changed_replay_configuration_starts_the_buffer_afresh()
    {
        using (var store = new SampleStore(_dir.Options() with { ReplayCapacity = 10 }))
            store.Replay.Offer(Enumerable.Range(0, 20).Select(i => Sample(i, 0)).ToArray());
        using var reopened = new SampleStore(_dir.Options() with { ReplayCapacity = 5 });
        Assert.Equal(0, reopened.Replay.Count);
        Assert.Equal(0, reopened.Replay.Seen);
    }

    [Fact]
    public void Bad_samples_offered_to_replay_are_refused_alone()
    {
        using var store = new SampleStore(_dir.Options() with { ReplayCapacity = 10 });
        // The replay width is set by the first admitted sample (embeddings may be wider than raw features).
        var result = store.Replay.Offer([
            Sample(1, 0, width: 8),
            Sample(2, 0, width: 6),
            new TrainingSample(3, [1, float.NaN, 0, 0, 0, 0, 0, 0], SampleLabel.Class(0)),
            Sample(4, 5, width: 8),
            Sample(5, 1, width: 8),
        ]);
        Assert.Equal(2, result.Admitted);
        Assert.Equal([1, 2, 3], result.Rejections.Select(r => r.Index));
        Assert.Equal(SampleRejectionReason.WrongFeatureCount, result.Rejections[0].Error.Reason);
        Assert.Contains("6 features; this store expects 8 (the replay buffer's feature width", result.Rejections[0].Error.Message);
        Assert.Equal(SampleRejectionReason.NonFiniteFeature, result.Rejections[1].Error.Reason);
        Assert.Equal(SampleRejectionReason.UnknownLabel, result.Rejections[2].Error.Reason);
        Assert.Equal([1L, 5L], store.Replay.SampleReplay(10, new Random(0)).Select(s => s.Id).Order());

        store.Replay.Clear();
        Assert.Equal(1, store.Replay.Offer([Sample(6, 0, width: 3)]).Admitted);
    }

    [Fact]
    public void Used_samples_leave_the_sample_table_but_admitted_ones_live_on_in_replay()
    {
        using var store = new SampleStore(_dir.Options() with { ReplayCapacity = 4 });
        store.AddLabelledBatch(Samples.Batch(10));
        var batch = store.TakeFreshBatch(10);
        // The first 4 fill the buffer; later ones may replace them (admissions count replacements too).
        Assert.InRange(store.Replay.Offer(batch).Admitted, 4, 10);
        Assert.Equal(4, store.Replay.Count);
        store.MarkUsed(batch.Select(s => s.Id));
        Assert.Equal(0, store.GetStats().Rows);
        var replayed = store.Replay.SampleReplay(4, new Random(0));
        Assert.Equal(4, replayed.Count);
        Assert.Subset(batch.Select(s => s.Id).ToHashSet(), replayed.Select(s => s.Id).ToHashSet());
        Assert.Equal(4, store.GetStats().ReplayCount);

        store.Wipe();
        Assert.Equal(0, store.Replay.Count);
        Assert.Empty(store.Replay.SampleReplay(4, new Random(0)));
    }
}
