using Microsoft.Data.Sqlite;

namespace ContinualLearning.Storage;

/// <summary>
/// Keeps the sample table within its bounds: counts rows and accounted bytes, evicts the oldest rows on insert when
/// <see cref="SampleStoreOptions.MaxRows"/> or <see cref="SampleStoreOptions.MaxBytes"/> would be exceeded, deletes
/// rows older than the TTL, and issues row ids that are never reused. Callers hold the store's lock.
/// </summary>
internal sealed class SampleBounds
{
    /// <summary>Row ids reserved in the meta table per write (see <see cref="NextRowId"/>).</summary>
    private const int RowIdBlock = 4096;

    private readonly SampleDatabase _db;
    private readonly SampleStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly SqliteCommand _evictOldest;
    private readonly SqliteCommand _expire;
    private long _lastRowId;
    private long _reservedRowId;

    public SampleBounds(SampleDatabase db, SampleStoreOptions options, TimeProvider time)
    {
        _db = db;
        _options = options;
        _time = time;
        _evictOldest = db.Prepare("DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY id LIMIT $n) RETURNING size", "$n");
        _expire = db.Prepare("DELETE FROM samples WHERE time_ms < $cutoff RETURNING size", "$cutoff");
    }

    /// <summary>Sample rows held.</summary>
    public long Rows { get; private set; }

    /// <summary>Bytes accounted to the held rows.</summary>
    public long Bytes { get; private set; }

    /// <summary>The highest row id issued so far.</summary>
    public long LastRowId => _lastRowId;

    /// <summary>Rows evicted by the bounds since the store was opened.</summary>
    public long Evicted { get; private set; }

    /// <summary>Rows deleted by the TTL since the store was opened.</summary>
    public long Expired { get; private set; }

    public long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Rows logged before this time (Unix ms) have outlived the TTL.</summary>
    public long ExpiryCutoffMs() =>
        _options.Ttl == Timeout.InfiniteTimeSpan ? long.MinValue : NowMs - (long)_options.Ttl.TotalMilliseconds;

    /// <summary>
    /// The id for the next row. Row ids are issued from memory and reserved in the meta table in blocks, so an id is
    /// never reused — even after its row was deleted and the store reopened — at the cost of one meta write per block
    /// instead of one per row (which AUTOINCREMENT would pay).
    /// </summary>
    public long NextRowId()
    {
        var rowId = _lastRowId + 1;
        if (rowId > _reservedRowId)
        {
            _reservedRowId = rowId + RowIdBlock;
            _db.SetMeta("reserved_row_id", _reservedRowId);
        }
        return rowId;
    }

    /// <summary>Accounts a row just inserted with <paramref name="rowId"/> from <see cref="NextRowId"/>.</summary>
    public void Inserted(long rowId, long size)
    {
        _lastRowId = rowId;
        Rows++;
        Bytes += size;
    }

    /// <summary>Evicts the oldest rows, whatever their state, until a row of <paramref name="size"/> bytes fits.</summary>
    public void MakeRoom(long size)
    {
        if (Rows + 1 <= _options.MaxRows && Bytes + size <= _options.MaxBytes) return;
        // Evict in chunks of ~1/128 of the bounds: one DELETE per chunk instead of one per insert once the store is
        // full. The store then briefly holds up to 1/128 less than its bound.
        var rowTarget = _options.MaxRows - 1 - _options.MaxRows / 128;
        var byteTarget = _options.MaxBytes - size - _options.MaxBytes / 128;
        while (Rows > 0 && (Rows > rowTarget || Bytes > byteTarget))
        {
            var byRows = Rows - rowTarget;
            var excess = Bytes - byteTarget;
            var average = Math.Max(1, Bytes / Rows);
            var byBytes = excess > 0 ? (excess + average - 1) / average : 0;
            var n = Math.Max(1, Math.Max(byRows, byBytes));
            _evictOldest.Parameters[0].Value = n;
            Evicted += DeleteReturningSizes(_evictOldest);
        }
    }

    /// <summary>Deletes the rows older than the TTL; returns how many.</summary>
    public int Expire()
    {
        if (_options.Ttl == Timeout.InfiniteTimeSpan) return 0;
        _expire.Parameters[0].Value = ExpiryCutoffMs();
        var n = DeleteReturningSizes(_expire);
        Expired += n;
        return n;
    }

    /// <summary>Runs a DELETE of one expired row (… RETURNING size) and counts it as expired.</summary>
    public void DeleteExpired(SqliteCommand command) => Expired += DeleteReturningSizes(command);

    /// <summary>Runs a DELETE … RETURNING size and updates the counts; returns rows deleted.</summary>
    public int DeleteReturningSizes(SqliteCommand command)
    {
        var count = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            Bytes -= reader.GetInt64(0);
            count++;
        }
        Rows -= count;
        return count;
    }

    /// <summary>Every sample row was deleted.</summary>
    public void Cleared()
    {
        Rows = 0;
        Bytes = 0;
    }

    /// <summary>Re-reads the counts from the table (on open and after a rolled-back transaction).</summary>
    public void Reload()
    {
        using var cmd = _db.Connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(MAX(id), 0) FROM samples";
        using (var reader = cmd.ExecuteReader())
        {
            reader.Read();
            Rows = reader.GetInt64(0);
            Bytes = reader.GetInt64(1);
            // Every id ever issued is at most the persisted reservation, so continuing after it never reuses one.
            _reservedRowId = Math.Max(reader.GetInt64(2), _db.GetMeta("reserved_row_id") is long r ? r : 0);
        }
        _lastRowId = Math.Max(_lastRowId, _reservedRowId);
    }
}
