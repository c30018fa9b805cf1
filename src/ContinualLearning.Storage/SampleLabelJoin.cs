using ContinualLearning.Replay;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Storage;

/// <summary>
/// Joins a label to a logged prediction ("log and wait"): the sample becomes fresh. Refuses unknown, gone, expired and
/// already-labelled ids with a reason the app can act on. Callers hold the store's lock.
/// </summary>
internal sealed class SampleLabelJoin
{
    private readonly SampleDatabase _db;
    private readonly SampleBounds _bounds;
    private readonly SampleIdCodec _ids;
    private readonly TimeSpan _ttl;
    private readonly SqliteCommand _select;
    private readonly SqliteCommand _setLabel;
    private readonly SqliteCommand _deleteRow;

    public SampleLabelJoin(SampleDatabase db, SampleBounds bounds, SampleIdCodec ids, TimeSpan ttl)
    {
        _db = db;
        _bounds = bounds;
        _ids = ids;
        _ttl = ttl;
        _select = db.Prepare(
            "SELECT time_ms, state, label_class, label_values, prediction, model_version, size FROM samples WHERE id = $id", "$id");
        _setLabel = db.Prepare(
            "UPDATE samples SET state = 1, label_class = $class, label_values = $values WHERE id = $id AND state = 0",
            "$id", "$class", "$values");
        _deleteRow = db.Prepare("DELETE FROM samples WHERE id = $id RETURNING size", "$id");
    }

    /// <summary>
    /// Sets <paramref name="label"/> on the pending sample <paramref name="sampleId"/>; the same label again returns the
    /// same join (safe for retries). <paramref name="index"/> is the position in a batch, for the messages.
    /// </summary>
    /// <exception cref="SampleRejectedException">Unknown, gone or expired id, or a different label already set.</exception>
    public LabelJoin JoinLocked(long sampleId, SampleLabel label, int? index)
    {
        var where = index is { } i ? $"Label {i} of the batch: sample id {sampleId}" : $"Sample id {sampleId}";
        var rowId = _ids.Decode(sampleId);
        if (rowId < 1 || rowId > _bounds.LastRowId)
            throw new SampleRejectedException(SampleRejectionReason.UnknownSampleId,
                $"{where} was never issued by this store ({_db.Path}). Use the id returned with the prediction; ids from a store whose file was deleted are not valid.", sampleId);

        long timeMs;
        SampleState state;
        SampleLabel existing;
        float[]? prediction;
        string? version;
        _select.Parameters[0].Value = rowId;
        using (var reader = _select.ExecuteReader())
        {
            if (!reader.Read())
                throw new SampleRejectedException(SampleRejectionReason.SampleNoLongerHeld,
                    $"{where} is no longer held: it expired (TTL {_ttl}), was evicted by the store's bounds, or was already used for training. Labels must arrive within the TTL.", sampleId);
            timeMs = reader.GetInt64(0);
            state = (SampleState)reader.GetInt32(1);
            existing = SampleDatabase.ReadLabel(reader, 2, 3);
            prediction = reader.IsDBNull(4) ? null : FloatBlob.ToFloats((byte[])reader.GetValue(4));
            version = reader.IsDBNull(5) ? null : reader.GetString(5);
        }
        var loggedAt = DateTimeOffset.FromUnixTimeMilliseconds(timeMs);
        if (timeMs < _bounds.ExpiryCutoffMs())
        {
            _deleteRow.Parameters[0].Value = rowId;
            _bounds.DeleteExpired(_deleteRow);
            throw new SampleRejectedException(SampleRejectionReason.ExpiredSample,
                $"{where} expired: logged at {loggedAt:O}, older than the TTL ({_ttl}). It has been deleted; labels must arrive within the TTL.", sampleId);
        }
        if (state != SampleState.Pending)
        {
            if (existing == label) return new LabelJoin(sampleId, loggedAt, prediction, version, label);
            throw new SampleRejectedException(SampleRejectionReason.AlreadyLabelled,
                $"{where} already has {existing}; refusing to overwrite it with {label}. Each sample takes one label.", sampleId);
        }
        var (labelClass, labelValues) = SampleDatabase.LabelColumns(label);
        _setLabel.Parameters[0].Value = rowId;
        _setLabel.Parameters[1].Value = labelClass;
        _setLabel.Parameters[2].Value = labelValues;
        _setLabel.ExecuteNonQuery();
        return new LabelJoin(sampleId, loggedAt, prediction, version, label);
    }
}
