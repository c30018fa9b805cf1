using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.UnitTests.Storage;

/// <summary>The sample store's parts on their own: the database file, the bounds and the validator.</summary>
public sealed class SampleStorePartsTests : IDisposable
{
    private readonly ShmDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_failed_transaction_rolls_back_reports_it_and_rethrows()
    {
        using var db = new SampleDatabase(_dir.Db, allowPersistent: false);
        var rolledBack = false;
        var error = Assert.Throws<InvalidOperationException>(() => db.InTransaction(
            () =>
            {
                db.SetMeta("probe", 1L);
                throw new InvalidOperationException("boom");
            },
            () => rolledBack = true));

        Assert.Equal("boom", error.Message);
        Assert.True(rolledBack);
        Assert.Null(db.GetMeta("probe"));
        db.InTransaction(() => db.SetMeta("probe", 2L), () => rolledBack = false);
        Assert.Equal(2L, db.GetMeta("probe"));
        Assert.True(rolledBack, "a committed transaction must not report a rollback");
    }

    [Fact]
    public void Row_ids_are_reserved_in_blocks_and_a_reload_continues_after_the_reservation()
    {
        var options = _dir.Options();
        long reservation;
        using (var db = new SampleDatabase(_dir.Db, allowPersistent: false))
        {
            var bounds = new SampleBounds(db, options, TimeProvider.System);
            Assert.Equal(1, bounds.NextRowId());
            reservation = Assert.IsType<long>(db.GetMeta("reserved_row_id"));
            Assert.True(reservation > 1);
            bounds.Inserted(1, 100);
            db.SetMeta("reserved_row_id", -1L); // a second reservation would overwrite this
            Assert.Equal(2, bounds.NextRowId());
            Assert.Equal(-1L, db.GetMeta("reserved_row_id"));
            db.SetMeta("reserved_row_id", reservation);
        }

        using (var db = new SampleDatabase(_dir.Db, allowPersistent: false))
        {
            var bounds = new SampleBounds(db, options, TimeProvider.System);
            bounds.Reload();
            Assert.Equal(reservation + 1, bounds.NextRowId());
        }
    }

    [Fact]
    public void A_full_store_evicts_a_chunk_of_the_oldest_rows_not_one_per_insert()
    {
        // 256 rows: the bound is met by evicting down to 256 − 1 − 256/128 = 253 rows, so three go at once.
        using var store = new SampleStore(_dir.Options() with { MaxRows = 256 });
        store.AddLabelledBatch(Samples.Batch(256));
        Assert.Equal(0, store.GetStats().Evicted);

        store.AddLabelled(Samples.Features(1, 4), SampleLabel.Class(0));
        Assert.Equal(3, store.GetStats().Evicted);
        Assert.Equal(254, store.GetStats().Rows);

        store.AddLabelled(Samples.Features(2, 4), SampleLabel.Class(0));
        Assert.Equal(3, store.GetStats().Evicted);
    }

    [Fact]
    public void The_validator_names_the_width_a_replay_sample_was_checked_against()
    {
        var validator = new SampleValidator(_dir.Options(featureCount: 4));
        validator.CheckFeatures([1f, 2f, 3f, 4f], null);
        var error = Assert.Throws<SampleRejectedException>(() => validator.CheckFeatures([1f, 2f], 3, 8, "the replay buffer's feature width"));
        Assert.Equal(SampleRejectionReason.WrongFeatureCount, error.Reason);
        Assert.Contains("Sample 3 of the batch has 2 features; this store expects 8 (the replay buffer's feature width)", error.Message, StringComparison.Ordinal);
    }
}
