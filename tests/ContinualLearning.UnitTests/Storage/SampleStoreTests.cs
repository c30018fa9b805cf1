using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.UnitTests.Storage;

public sealed class SampleStoreTests : IDisposable
{
    private readonly ShmDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Logged_prediction_joins_its_label_and_becomes_fresh()
    {
        var clock = new ManualTimeProvider();
        using var store = new SampleStore(_dir.Options(), clock);
        var id = store.LogPrediction(Samples.Features(1), [0.1f, 0.7f, 0.2f], "v3");

        Assert.Equal(1, store.GetStats().Pending);
        Assert.Empty(store.TakeFreshBatch(10));

        var join = store.AddLabel(id, SampleLabel.Class(2));
        Assert.Equal(id, join.SampleId);
        Assert.Equal([0.1f, 0.7f, 0.2f], join.Prediction!);
        Assert.Equal("v3", join.ModelVersion);
        Assert.Equal(clock.GetUtcNow(), join.LoggedAt);

        var batch = store.TakeFreshBatch(10);
        var sample = Assert.Single(batch);
        Assert.Equal(id, sample.Id);
        Assert.Equal(Samples.Features(1), sample.Features);
        Assert.Equal(SampleLabel.Class(2), sample.Label);
    }

    [Fact]
    public void Same_label_twice_is_a_no_op_but_a_different_label_is_refused()
    {
        using var store = new SampleStore(_dir.Options());
        var id = store.LogPrediction(Samples.Features(1), [], "v1");
        store.AddLabel(id, SampleLabel.Class(1));
        var again = store.AddLabel(id, SampleLabel.Class(1));
        Assert.Equal(SampleLabel.Class(1), again.Label);

        var e = Assert.Throws<SampleRejectedException>(() => store.AddLabel(id, SampleLabel.Class(0)));
        Assert.Equal(SampleRejectionReason.AlreadyLabelled, e.Reason);
        Assert.Contains("already has class 1", e.Message);
        Assert.Equal(SampleLabel.Class(1), Assert.Single(store.TakeFreshBatch(5)).Label);
    }

    [Fact]
    public void Ids_are_unique_not_sequential_and_fit_a_json_number()
    {
        using var store = new SampleStore(_dir.Options() with { MaxRows = 10 });
        var ids = Enumerable.Range(0, 2000).Select(i => store.LogPrediction(Samples.Features(i), [], "v1")).ToArray();

        Assert.Equal(ids.Length, ids.Distinct().Count());
        Assert.All(ids, id => Assert.InRange(id, 0L, (1L << 53) - 1));
        // Consecutive logs must not give consecutive (guessable) ids.
        var adjacent = ids.Zip(ids.Skip(1), (a, b) => Math.Abs(b - a)).Count(d => d < 1000);
        Assert.True(adjacent < 5, $"{adjacent} of {ids.Length - 1} consecutive ids are within 1000 of each other.");
    }

    [Fact]
    public void Each_fresh_sample_is_handed_to_training_once()
    {
        using var store = new SampleStore(_dir.Options() with { MaxRows = 1000 });
        var ingest = store.AddLabelledBatch(Samples.Batch(10));
        Assert.Empty(ingest.Rejections);

        var first = store.TakeFreshBatch(6);
        var second = store.TakeFreshBatch(6);
        Assert.Equal(6, first.Count);
        Assert.Equal(4, second.Count);
        Assert.Empty(first.Select(s => s.Id).Intersect(second.Select(s => s.Id)));
        Assert.Equal(ingest.Ids.Order(), first.Concat(second).Select(s => s.Id).Order());
        Assert.Empty(store.TakeFreshBatch(6));

        // An abandoned run gives its samples back; a completed run deletes them.
        Assert.Equal(4, store.Release(second.Select(s => s.Id)));
        Assert.Equal(6, store.MarkUsed(first.Select(s => s.Id)));
        Assert.Equal(0, store.MarkUsed(first.Select(s => s.Id)));
        var retaken = store.TakeFreshBatch(100);
        Assert.Equal(second.Select(s => s.Id).Order(), retaken.Select(s => s.Id).Order());
        Assert.Equal(4, store.MarkUsed(retaken.Select(s => s.Id)));
        Assert.Equal(0, store.GetStats().Rows);

        var e = Assert.Throws<SampleRejectedException>(() => store.AddLabel(first[0].Id, SampleLabel.Class(0)));
        Assert.Equal(SampleRejectionReason.SampleNoLongerHeld, e.Reason);
    }

    [Fact]
    public void Taken_samples_of_a_crashed_run_are_fresh_again_after_reopen()
    {
        var options = _dir.Options();
        long[] taken;
        using (var store = new SampleStore(options))
        {
            store.AddLabelledBatch(Samples.Batch(5));
            taken = store.TakeFreshBatch(3).Select(s => s.Id).ToArray();
        }
        using var reopened = new SampleStore(options);
        var again = reopened.TakeFreshBatch(10).Select(s => s.Id).ToArray();
        Assert.Equal(5, again.Length);
        Assert.Subset(again.ToHashSet(), taken.ToHashSet());
    }

    [Fact]
    public void Restart_within_a_boot_keeps_pending_predictions_by_default()
    {
        var options = _dir.Options();
        long id;
        using (var store = new SampleStore(options))
            id = store.LogPrediction(Samples.Features(3), [1f], "v1");
        Assert.True(File.Exists(_dir.Db));

        using (var reopened = new SampleStore(options with { DeleteOnDispose = true }))
        {
            Assert.Equal("v1", reopened.AddLabel(id, SampleLabel.Class(0)).ModelVersion);
            // A new id after reopening must not collide with one issued before.
            Assert.NotEqual(id, reopened.LogPrediction(Samples.Features(4), [], "v1"));
        }
        Assert.False(File.Exists(_dir.Db));
        Assert.False(File.Exists(_dir.Db + "-wal"));
        Assert.False(File.Exists(_dir.Db + "-shm"));
    }

    [Fact]
    public void Ids_are_never_reused_even_after_the_table_emptied_and_the_store_reopened()
    {
        var options = _dir.Options();
        long[] used;
        using (var store = new SampleStore(options))
        {
            used = store.AddLabelledBatch(Samples.Batch(3)).Ids;
            store.MarkUsed(store.TakeFreshBatch(10).Select(s => s.Id));
            Assert.Equal(0, store.GetStats().Rows);
        }
        using var reopened = new SampleStore(options);
        var fresh = reopened.AddLabelledBatch(Samples.Batch(3)).Ids;
        Assert.Empty(fresh.Intersect(used));
        var e = Assert.Throws<SampleRejectedException>(() => reopened.AddLabel(used[0], SampleLabel.Class(0)));
        Assert.Equal(SampleRejectionReason.SampleNoLongerHeld, e.Reason);
    }

    [Fact]
    public void Reopening_with_another_feature_count_is_refused_with_both_configurations()
    {
        new SampleStore(_dir.Options(featureCount: 4)).Dispose();
        var e = Assert.Throws<SampleStoreConfigurationException>(() => new SampleStore(_dir.Options(featureCount: 8)));
        Assert.Contains("features=4", e.Message);
        Assert.Contains("features=8", e.Message);
        Assert.Contains(_dir.Db, e.Message);
    }

    public static TheoryData<string, SampleRejectionReason, string[]> BadSamples => new()
    {
        { "too few features", SampleRejectionReason.WrongFeatureCount, ["3 features", "expects 4"] },
        { "no features", SampleRejectionReason.WrongFeatureCount, ["0 features"] },
        { "NaN feature", SampleRejectionReason.NonFiniteFeature, ["feature 1 = NaN"] },
        { "infinite feature", SampleRejectionReason.NonFiniteFeature, ["feature 3 = Infinity"] },
        { "oversize", SampleRejectionReason.FeaturesTooLarge, ["100 features", "MaxFeatureCount = 64"] },
        { "class out of range", SampleRejectionReason.UnknownLabel, ["class 7", "0…2"] },
        { "negative class", SampleRejectionReason.UnknownLabel, ["class -1", "0…2"] },
        { "values for a class store", SampleRejectionReason.UnknownLabel, ["takes class labels"] },
        { "no label", SampleRejectionReason.UnknownLabel, ["(no label)"] },
    };

    [Theory]
    [MemberData(nameof(BadSamples))]
    public void Bad_labelled_sample_is_refused_with_its_problem_named(string problem, SampleRejectionReason reason, string[] fragments)
    {
        using var store = new SampleStore(_dir.Options() with { MaxFeatureCount = 64 });
        store.AddLabelled(Samples.Features(0), SampleLabel.Class(0));
        var (features, label) = Bad(problem);

        var e = Assert.Throws<SampleRejectedException>(() => store.AddLabelled(features, label));
        Assert.Equal(reason, e.Reason);
        foreach (var fragment in fragments) Assert.Contains(fragment, e.Message);
        Assert.Equal(1, store.GetStats().Rows);

        // The same sample inside a batch is refused alone; its neighbours are stored.
        var batch = store.AddLabelledBatch([(Samples.Features(1), SampleLabel.Class(1)), (features, label), (Samples.Features(2), SampleLabel.Class(2))]);
        var rejection = Assert.Single(batch.Rejections);
        Assert.Equal(1, rejection.Index);
        Assert.Equal(reason, rejection.Error.Reason);
        Assert.Contains("Sample 1 of the batch", rejection.Error.Message);
        Assert.Equal(-1, batch.Ids[1]);
        Assert.Equal(2, batch.Accepted);
        Assert.Equal(3, store.GetStats().Rows);
    }

    private static (float[], SampleLabel) Bad(string problem) => problem switch
    {
        "too few features" => ([1, 2, 3], SampleLabel.Class(0)),
        "no features" => ([], SampleLabel.Class(0)),
        "NaN feature" => ([1, float.NaN, 3, 4], SampleLabel.Class(0)),
        "infinite feature" => ([1, 2, 3, float.PositiveInfinity], SampleLabel.Class(0)),
        "oversize" => (new float[100], SampleLabel.Class(0)),
        "class out of range" => (Samples.Features(1), SampleLabel.Class(7)),
        "negative class" => (Samples.Features(1), SampleLabel.Class(-1)),
        "values for a class store" => (Samples.Features(1), SampleLabel.FromValues([0.5f])),
        "no label" => (Samples.Features(1), default),
        _ => throw new ArgumentOutOfRangeException(nameof(problem)),
    };

    [Fact]
    public void Bad_predictions_and_model_versions_are_refused_with_their_problem_named()
    {
        using var store = new SampleStore(_dir.Options() with { MaxPredictionCount = 3 });
        var nan = Assert.Throws<SampleRejectedException>(() => store.LogPrediction(Samples.Features(1), [0.5f, float.NaN], "v1"));
        Assert.Equal(SampleRejectionReason.InvalidPrediction, nan.Reason);
        Assert.Contains("output 1 = NaN", nan.Message);
        var big = Assert.Throws<SampleRejectedException>(() => store.LogPrediction(Samples.Features(1), new float[4], "v1"));
        Assert.Contains("MaxPredictionCount = 3", big.Message);
        var version = Assert.Throws<SampleRejectedException>(() => store.LogPrediction(Samples.Features(1), [], ""));
        Assert.Equal(SampleRejectionReason.InvalidModelVersion, version.Reason);
        Assert.Contains("empty", version.Message);
        var features = Assert.Throws<SampleRejectedException>(() => store.LogPrediction([1, 2], [], "v1"));
        Assert.Equal(SampleRejectionReason.WrongFeatureCount, features.Reason);
        Assert.Equal(0, store.GetStats().Rows);
    }

    [Fact]
    public void Labels_for_unknown_gone_and_expired_ids_are_refused_with_the_reason()
    {
        var clock = new ManualTimeProvider();
        using var store = new SampleStore(_dir.Options() with { Ttl = TimeSpan.FromMinutes(10), MaxRows = 2 }, clock);
        var expiring = store.LogPrediction(Samples.Features(1), [], "v1");
        clock.Advance(TimeSpan.FromMinutes(11));
        var evicted = store.LogPrediction(Samples.Features(2), [], "v1");
        var live1 = store.LogPrediction(Samples.Features(3), [], "v1");
        var live2 = store.LogPrediction(Samples.Features(4), [], "v1");
        Assert.Equal(2, store.GetStats().Rows);

        var unknown = Assert.Throws<SampleRejectedException>(() => store.AddLabel(123_456_789, SampleLabel.Class(0)));
        Assert.Equal(SampleRejectionReason.UnknownSampleId, unknown.Reason);
        Assert.Contains("123456789 was never issued", unknown.Message);
        Assert.Equal(123_456_789, unknown.SampleId);

        var gone = Assert.Throws<SampleRejectedException>(() => store.AddLabel(evicted, SampleLabel.Class(0)));
        Assert.Equal(SampleRejectionReason.SampleNoLongerHeld, gone.Reason);
        Assert.Contains("no longer held", gone.Message);

        // Bad label for a live id: named, and the sample keeps waiting for a good one.
        var badLabel = Assert.Throws<SampleRejectedException>(() => store.AddLabel(live1, SampleLabel.Class(3)));
        Assert.Equal(SampleRejectionReason.UnknownLabel, badLabel.Reason);
        Assert.Contains($"Label for sample {live1}: class 3 is outside 0…2", badLabel.Message);
        store.AddLabel(live1, SampleLabel.Class(2));

        clock.Advance(TimeSpan.FromMinutes(11));
        var expired = Assert.Throws<SampleRejectedException>(() => store.AddLabel(live2, SampleLabel.Class(0)));
        Assert.Equal(SampleRejectionReason.ExpiredSample, expired.Reason);
        Assert.Contains("older than the TTL", expired.Message);
        _ = expiring;
    }

    [Fact]
    public void Label_batch_joins_good_labels_and_reports_bad_ones()
    {
        using var store = new SampleStore(_dir.Options());
        var a = store.LogPrediction(Samples.Features(1), [], "v1");
        var b = store.LogPrediction(Samples.Features(2), [], "v1");
        var result = store.AddLabels([(a, SampleLabel.Class(1)), (42, SampleLabel.Class(0)), (b, SampleLabel.Class(9))]);
        Assert.NotNull(result.Joins[0]);
        Assert.Null(result.Joins[1]);
        Assert.Null(result.Joins[2]);
        Assert.Equal([1, 2], result.Rejections.Select(r => r.Index));
        Assert.Equal(SampleRejectionReason.UnknownSampleId, result.Rejections[0].Error.Reason);
        Assert.Equal(SampleRejectionReason.UnknownLabel, result.Rejections[1].Error.Reason);
        Assert.Contains("Label 2 of the batch", result.Rejections[1].Error.Message);
        Assert.Equal(a, Assert.Single(store.TakeFreshBatch(10)).Id);
    }

    [Fact]
    public void Max_rows_evicts_the_oldest_first()
    {
        using var store = new SampleStore(_dir.Options() with { MaxRows = 5 });
        var ids = store.AddLabelledBatch(Samples.Batch(8)).Ids;
        var kept = store.TakeFreshBatch(100).Select(s => s.Id).ToArray();
        Assert.Equal(ids[3..], kept);
        Assert.Equal(3, store.GetStats().Evicted);
    }

    [Fact]
    public void Max_bytes_evicts_the_oldest_first_and_stays_under_the_bound()
    {
        // 64 features = 256 B + 48 B overhead per row: 4096 B hold 13 rows.
        const int rowBytes = 64 * 4 + SampleStore.RowOverhead;
        using var store = new SampleStore(_dir.Options(featureCount: 64) with { MaxBytes = 4096 });
        var ids = new List<long>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add(store.AddLabelled(Samples.Features(i, 64), SampleLabel.Class(0)));
            Assert.InRange(store.GetStats().Bytes, 0, 4096);
        }
        var stats = store.GetStats();
        Assert.Equal(4096 / rowBytes, stats.Rows);
        Assert.Equal(stats.Rows * rowBytes, stats.Bytes);
        Assert.Equal(ids.TakeLast((int)stats.Rows), store.TakeFreshBatch(100).Select(s => s.Id));
    }

    [Fact]
    public void Expire_sweeps_samples_older_than_the_ttl_without_waiting()
    {
        var clock = new ManualTimeProvider();
        using var store = new SampleStore(_dir.Options() with { Ttl = TimeSpan.FromHours(1) }, clock);
        store.AddLabelledBatch(Samples.Batch(3));
        store.LogPrediction(Samples.Features(9), [], "v1");
        clock.Advance(TimeSpan.FromMinutes(40));
        var young = store.AddLabelledBatch(Samples.Batch(2, offset: 10)).Ids;
        Assert.Equal(0, store.Expire());

        clock.Advance(TimeSpan.FromMinutes(30));
        // TakeFreshBatch sweeps first, so expired samples never reach training.
        Assert.Equal(young, store.TakeFreshBatch(100).Select(s => s.Id));
        var stats = store.GetStats();
        Assert.Equal(4, stats.Expired);
        Assert.Equal(2, stats.Rows);
        Assert.Equal(0, store.Expire());
    }

    [Fact]
    public void Expired_rows_are_swept_when_the_store_opens()
    {
        var clock = new ManualTimeProvider();
        var options = _dir.Options() with { Ttl = TimeSpan.FromMinutes(5) };
        using (var store = new SampleStore(options, clock)) store.AddLabelledBatch(Samples.Batch(4));
        clock.Advance(TimeSpan.FromMinutes(6));
        using var reopened = new SampleStore(options, clock);
        Assert.Equal(0, reopened.GetStats().Rows);
    }

    [Fact]
    public void Values_labels_round_trip_for_regression()
    {
        using var store = new SampleStore(_dir.Options() with { LabelKind = StoreLabelKind.Values, LabelCount = 2, ReplayCapacity = 0 });
        var id = store.LogPrediction(Samples.Features(1), [0.3f, 0.4f], "v1");
        store.AddLabel(id, SampleLabel.FromValues([1.5f, -2f]));
        Assert.Equal([1.5f, -2f], Assert.Single(store.TakeFreshBatch(1)).Label.Values.ToArray());

        var width = Assert.Throws<SampleRejectedException>(() => store.AddLabelled(Samples.Features(2), SampleLabel.FromValues([1f])));
        Assert.Equal(SampleRejectionReason.WrongLabelWidth, width.Reason);
        Assert.Contains("1 values; this store expects 2", width.Message);
        var nan = Assert.Throws<SampleRejectedException>(() => store.AddLabelled(Samples.Features(2), SampleLabel.FromValues([1f, float.NaN])));
        Assert.Equal(SampleRejectionReason.NonFiniteLabel, nan.Reason);
        Assert.Contains("label value 1 = NaN", nan.Message);
        var cls = Assert.Throws<SampleRejectedException>(() => store.AddLabelled(Samples.Features(2), SampleLabel.Class(1)));
        Assert.Equal(SampleRejectionReason.UnknownLabel, cls.Reason);
    }

    [Theory]
    [InlineData(nameof(SampleStoreOptions.LabelCount))]
    [InlineData(nameof(SampleStoreOptions.MaxRows))]
    [InlineData(nameof(SampleStoreOptions.FeatureCount))]
    [InlineData(nameof(SampleStoreOptions.ReplayPolicy))]
    [InlineData(nameof(SampleStoreOptions.Ttl))]
    public void Invalid_options_are_refused_naming_the_field(string field)
    {
        var good = _dir.Options();
        var bad = field switch
        {
            nameof(SampleStoreOptions.LabelCount) => good with { LabelCount = 0 },
            nameof(SampleStoreOptions.MaxRows) => good with { MaxRows = 0 },
            nameof(SampleStoreOptions.FeatureCount) => good with { FeatureCount = 100, MaxFeatureCount = 50 },
            nameof(SampleStoreOptions.ReplayPolicy) => good with { LabelKind = StoreLabelKind.Values, ReplayPolicy = ReplayPolicyKind.ClassBalanced },
            nameof(SampleStoreOptions.Ttl) => good with { Ttl = TimeSpan.FromSeconds(-1) },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var e = Assert.Throws<ArgumentException>(() => new SampleStore(bad));
        Assert.Equal(field, e.ParamName);
        Assert.Contains($"'{field}'", e.Message);
        Assert.False(File.Exists(_dir.Db));
    }
}
