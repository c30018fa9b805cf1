using ContinualLearning.Replay;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Storage;

/// <summary>
/// Hands fresh samples to training exactly once: a batch is marked taken, then deleted when the run used it or made
/// fresh again when the run was abandoned. Callers hold the store's lock.
/// </summary>
internal sealed class SampleTake
{
    private readonly SampleDatabase _db;
    private readonly SampleBounds _bounds;
    private readonly SampleIdCodec _ids;
    private readonly SqliteCommand _take;
    private readonly SqliteCommand _deleteTaken;
    private readonly SqliteCommand _releaseTaken;

    public SampleTake(SampleDatabase db, SampleBounds bounds, SampleIdCodec ids)
    {
        _db = db;
        _bounds = bounds;
        _ids = ids;
        _take = db.Prepare(
            "UPDATE samples SET state = 2 WHERE id IN (SELECT id FROM samples WHERE state = 1 ORDER BY id LIMIT $n) " +
            "RETURNING id, features, label_class, label_values", "$n");
        _deleteTaken = db.Prepare("DELETE FROM samples WHERE id = $id AND state = 2 RETURNING size", "$id");
        _releaseTaken = db.Prepare("UPDATE samples SET state = 1 WHERE id = $id AND state = 2", "$id");
    }

    /// <summary>A training run that crashed never marked its samples used: they are still unused, so make them fresh again.</summary>
    public void ReleaseAll() => _db.Execute("UPDATE samples SET state = 1 WHERE state = 2");

    /// <summary>Marks up to <paramref name="max"/> fresh samples taken and adds them to <paramref name="result"/>, with their row ids (in no order).</summary>
    public void TakeLocked(int max, List<TrainingSample> result)
    {
        _take.Parameters[0].Value = max;
        using var reader = _take.ExecuteReader();
        while (reader.Read())
        {
            var rowId = reader.GetInt64(0);
            var features = _db.ReadFloatsLocked(reader, 1);
            result.Add(new TrainingSample(rowId, features, SampleDatabase.ReadLabel(reader, 2, 3)));
        }
    }

    /// <summary>Deletes (<paramref name="used"/>) or releases the taken samples among <paramref name="sampleIds"/>; returns how many rows changed.</summary>
    public int FinishLocked(IEnumerable<long> sampleIds, bool used)
    {
        var command = used ? _deleteTaken : _releaseTaken;
        var count = 0;
        foreach (var id in sampleIds)
        {
            var rowId = _ids.Decode(id);
            if (rowId < 1) continue;
            command.Parameters[0].Value = rowId;
            count += used ? _bounds.DeleteReturningSizes(command) : command.ExecuteNonQuery();
        }
        return count;
    }
}
