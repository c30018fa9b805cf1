using ContinualLearning.Replay;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Storage;

/// <summary>
/// The device's transient sample store: a SQLite database on tmpfs (RAM) holding logged predictions waiting for
/// their labels ("log and wait"), labelled samples waiting for training, and the replay buffer (<see cref="Replay"/>).
/// <para>
/// Raw data never reaches persistent storage: the path must be on tmpfs/ramfs unless
/// <see cref="SampleStoreOptions.AllowPersistent"/> is set; <c>temp_store=MEMORY</c> keeps SQLite's temporary
/// tables and sort files in memory; the journal is a WAL file next to the database (so on the same tmpfs).
/// <c>synchronous=OFF</c> is safe here: it only skips fsync, which guards against power loss — and a power loss
/// empties tmpfs anyway. Committed transactions still survive a crash of this process.
/// </para>
/// <para>
/// Bounded: at most <see cref="SampleStoreOptions.MaxRows"/> rows and <see cref="SampleStoreOptions.MaxBytes"/>
/// accounted bytes (oldest rows evicted on insert, whatever their state), and rows older than the TTL are deleted
/// by <see cref="Expire"/>: on open, before each <see cref="TakeFreshBatch"/>, and every
/// <see cref="SampleStoreOptions.EffectiveSweepInterval"/> on a timer, so a TTL is a promise about what stays in RAM,
/// not only about what reaches training. Each fresh sample is
/// handed to training once: <see cref="TakeFreshBatch"/> marks rows taken, <see cref="MarkUsed"/> deletes them.
/// </para>
/// Thread-safe: one connection behind one lock.
/// </summary>
public sealed partial class SampleStore : IDisposable
{
    /// <summary>Bytes accounted per row on top of its blobs (row header, rowid, integers, B-tree cell overhead).</summary>
    internal const int RowOverhead = 48;

    private readonly Lock _gate = new();
    private readonly SampleDatabase _db;
    private readonly SampleIdCodec _ids;
    private readonly SampleBounds _bounds;
    private readonly SampleLabelJoin _labels;
    private readonly SampleValidator _validator;
    private readonly SampleTake _taken;
    private readonly SqliteCommand _insert;
    private readonly Action _reloadAfterRollback;
    private readonly ITimer? _sweep;
    private readonly TimeProvider _time;
    private bool _disposed;

    /// <summary>Opens (creating if needed) the store at <see cref="SampleStoreOptions.DatabasePath"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="InvalidOperationException">The path is on persistent storage (and that is not allowed), or an existing database was made with an incompatible feature/label configuration.</exception>
    public SampleStore(SampleStoreOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _time = timeProvider ?? TimeProvider.System;
        DatabasePath = Path.GetFullPath(options.DatabasePath ?? SampleStoreOptions.DefaultDatabasePath);
        _validator = new SampleValidator(options);
        _reloadAfterRollback = ReloadAfterRollback;
        _db = new SampleDatabase(DatabasePath, options.AllowPersistent);
        try
        {
            _ids = new SampleIdCodec(_db.LoadOrCreateIdKey());
            _db.CheckOrStoreConfiguration(options);
            _bounds = new SampleBounds(_db, options, timeProvider ?? TimeProvider.System);
            _labels = new SampleLabelJoin(_db, _bounds, _ids, options.Ttl);
            _insert = _db.Prepare(
                "INSERT INTO samples(id, time_ms, state, features, label_class, label_values, prediction, model_version, size) " +
                "VALUES ($id, $time, $state, $features, $class, $values, $prediction, $version, $size)",
                "$id", "$time", "$state", "$features", "$class", "$values", "$prediction", "$version", "$size");
            _taken = new SampleTake(_db, _bounds, _ids);
            _taken.ReleaseAll();
            _bounds.Reload();
            Replay = new ReplayBuffer(this);
            lock (_gate) _bounds.Expire();
            var sweep = options.EffectiveSweepInterval;
            if (sweep != Timeout.InfiniteTimeSpan)
                _sweep = (timeProvider ?? TimeProvider.System).CreateTimer(static s => ((SampleStore)s!).Sweep(), this, sweep, sweep);
        }
        catch
        {
            _db.Dispose();
            throw;
        }
    }

    /// <summary>The options the store was opened with.</summary>
    public SampleStoreOptions Options { get; }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>The replay buffer, kept in the same database (table <c>replay</c>).</summary>
    public ReplayBuffer Replay { get; }

    internal Lock Gate => _gate;

    internal SampleDatabase Database => _db;

    internal SampleValidator Validator => _validator;

    internal SqliteConnection Connection => _db.Connection;

    internal long NowMs => _bounds.NowMs;

    /// <summary>
    /// Logs the features a prediction was served for and returns the sample id to hand to the app, which later
    /// sends the label with it (<see cref="AddLabel"/>). The id is unique within this database file, never reused,
    /// below 2^52 (safe as a JSON number) and not guessable from other ids.
    /// </summary>
    /// <param name="features">Features as the head or backbone consumed them.</param>
    /// <param name="prediction">The served output (probabilities, class index, or values); empty if none.</param>
    /// <param name="modelVersion">Version of the model that served it.</param>
    /// <exception cref="SampleRejectedException">Features, prediction or model version are invalid; nothing is stored.</exception>
    public long LogPrediction(ReadOnlySpan<float> features, ReadOnlySpan<float> prediction, string modelVersion)
    {
        _validator.CheckFeatures(features, null);
        _validator.CheckPrediction(prediction, modelVersion);
        var predictionBytes = prediction.IsEmpty ? null : FloatBlob.ToBytes(prediction);
        lock (_gate)
        {
            ThrowIfDisposed();
            return InsertLocked(SampleState.Pending, _db.BlobLocked(features), default, predictionBytes, modelVersion);
        }
    }

    /// <summary>Stores a sample that arrived with its label; it is fresh (ready for training) at once.</summary>
    /// <exception cref="SampleRejectedException">Features or label are invalid; nothing is stored.</exception>
    public long AddLabelled(ReadOnlySpan<float> features, SampleLabel label)
    {
        _validator.CheckFeatures(features, null);
        _validator.CheckLabel(label, null, null);
        lock (_gate)
        {
            ThrowIfDisposed();
            return InsertLocked(SampleState.Fresh, _db.BlobLocked(features), label, null, null);
        }
    }

    /// <summary>
    /// Stores labelled samples in one transaction. A refused sample is reported in the result and does not stop the others.
    /// </summary>
    public IngestResult AddLabelledBatch(IReadOnlyList<(float[] Features, SampleLabel Label)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var ids = new long[samples.Count];
        var blobs = new byte[]?[samples.Count];
        var rejections = new List<BatchRejection>();
        // Validation and serialisation happen outside the lock and the transaction: only good rows reach SQL.
        for (var i = 0; i < samples.Count; i++)
        {
            ids[i] = -1;
            try
            {
                var (features, label) = samples[i];
                if (features is null)
                    throw new SampleRejectedException(SampleRejectionReason.WrongFeatureCount, $"Sample {i} of the batch has no feature array (null); send the features.");
                _validator.CheckFeatures(features, i);
                _validator.CheckLabel(label, i, null);
                blobs[i] = FloatBlob.ToBytes(features);
            }
            catch (SampleRejectedException e)
            {
                rejections.Add(new BatchRejection(i, e));
            }
        }
        lock (_gate)
        {
            ThrowIfDisposed();
            InTransaction(() =>
            {
                for (var i = 0; i < samples.Count; i++)
                    if (blobs[i] is { } blob) ids[i] = InsertLocked(SampleState.Fresh, blob, samples[i].Label, null, null);
            });
        }
        return new IngestResult(ids, rejections);
    }

    /// <summary>
    /// Joins a label to a logged prediction; the sample becomes fresh. Sending the same label again is a no-op that
    /// returns the same join (safe for retries).
    /// </summary>
    /// <returns>The logged prediction and model version, for prequential metrics.</returns>
    /// <exception cref="SampleRejectedException">Unknown, gone or expired id, invalid label, or a different label already set.</exception>
    public LabelJoin AddLabel(long sampleId, SampleLabel label)
    {
        _validator.CheckLabel(label, null, sampleId);
        lock (_gate)
        {
            ThrowIfDisposed();
            return _labels.JoinLocked(sampleId, label, null);
        }
    }

    /// <summary>Joins many labels in one transaction; a refused label does not stop the others.</summary>
    public LabelBatchResult AddLabels(IReadOnlyList<(long SampleId, SampleLabel Label)> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var joins = new LabelJoin?[labels.Count];
        var rejections = new List<BatchRejection>();
        lock (_gate)
        {
            ThrowIfDisposed();
            InTransaction(() =>
            {
                for (var i = 0; i < labels.Count; i++)
                {
                    try
                    {
                        _validator.CheckLabel(labels[i].Label, i, labels[i].SampleId);
                        joins[i] = _labels.JoinLocked(labels[i].SampleId, labels[i].Label, i);
                    }
                    catch (SampleRejectedException e)
                    {
                        rejections.Add(new BatchRejection(i, e));
                    }
                }
            });
        }
        return new LabelBatchResult(joins, rejections);
    }

    /// <summary>
    /// Hands up to <paramref name="max"/> labelled, unused samples (oldest first) to a training run and marks them taken,
    /// so a second call never returns them again. After training call <see cref="MarkUsed"/> (or <see cref="Release"/>
    /// if the run was abandoned). Expired samples are swept first.
    /// </summary>
    public IReadOnlyList<TrainingSample> TakeFreshBatch(int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var result = new List<TrainingSample>(Math.Min(max, 4096));
        if (max == 0) return result;
        lock (_gate)
        {
            ThrowIfDisposed();
            _bounds.Expire();
            _taken.TakeLocked(max, result);
        }
        // RETURNING gives no order guarantee; oldest first (row id order), then swap in the public ids.
        result.Sort((a, b) => a.Id.CompareTo(b.Id));
        for (var i = 0; i < result.Count; i++) result[i] = result[i] with { Id = _ids.Encode(result[i].Id) };
        return result;
    }

    /// <summary>
    /// Deletes samples a training run has used (each fresh sample is used once). Offer them to <see cref="Replay"/>
    /// first: admitted ones live on there as their training features. Ids that are not taken are ignored.
    /// </summary>
    /// <returns>Rows deleted.</returns>
    public int MarkUsed(IEnumerable<long> sampleIds) => FinishTaken(sampleIds, used: true);

    /// <summary>Returns taken samples to fresh, for a training run that was abandoned before using them.</summary>
    public int Release(IEnumerable<long> sampleIds) => FinishTaken(sampleIds, used: false);

    /// <summary>Deletes samples older than the TTL (labelled or not). Returns how many.</summary>
    public int Expire()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return _bounds.Expire();
        }
    }

    /// <summary>Deletes every sample and the replay buffer (the fleet's "wipe data" command).</summary>
    public void Wipe()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            InTransaction(() =>
            {
                _db.Execute("DELETE FROM samples");
                Replay.ClearLocked();
            });
            _bounds.Cleared();
        }
    }

    /// <summary>Counts by state, accounted bytes, replay size, and rows evicted and expired since the store opened.</summary>
    public StoreStats GetStats()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            long pending = 0, fresh = 0, taken = 0;
            using var cmd = _db.Connection.CreateCommand();
            cmd.CommandText = "SELECT state, COUNT(*) FROM samples GROUP BY state";
            using (var reader = cmd.ExecuteReader())
            {
                while (reader.Read())
                {
                    var n = reader.GetInt64(1);
                    switch ((SampleState)reader.GetInt32(0))
                    {
                        case SampleState.Pending: pending = n; break;
                        case SampleState.Fresh: fresh = n; break;
                        case SampleState.Taken: taken = n; break;
                    }
                }
            }
            return new StoreStats(pending, fresh, taken, _bounds.Bytes, Replay.CountLocked, _bounds.Evicted, _bounds.Expired);
        }
    }

    /// <summary>Closes the database; deletes its files when <see cref="SampleStoreOptions.DeleteOnDispose"/> is set.</summary>
    public void Dispose()
    {
        _sweep?.Dispose();
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _db.Dispose();
            if (Options.DeleteOnDispose) _db.DeleteFiles();
        }
    }

    /// <summary>Runs <paramref name="body"/> in one transaction (caller holds the lock); on failure rolls back and re-reads the counters.</summary>
    internal void InTransaction(Action body) => _db.InTransaction(body, _reloadAfterRollback);

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    internal long EncodeId(long rowId) => _ids.Encode(rowId);

    /// <summary>Rows deleted by the periodic sweep (the timer's share of <see cref="StoreStats.Expired"/>).</summary>
    internal long Swept { get; private set; }

    // The timer's callback: it runs on a thread-pool thread, where an exception would end the process, so a failed
    // sweep (the file vanished, the disk is read-only) is left for the next period and for the sweeps before each run.
    private void Sweep()
    {
        lock (_gate)
        {
            if (_disposed) return;
            try
            {
                Swept += _bounds.Expire();
            }
            catch (SqliteException)
            {
            }
        }
    }

    private void ReloadAfterRollback()
    {
        _bounds.Reload();
        Replay?.ReloadLocked();
    }

    private long InsertLocked(SampleState state, byte[] features, SampleLabel label, byte[]? prediction, string? modelVersion)
    {
        // Room for a values label is reserved up front so joining a label later never grows the row's accounted size.
        var labelBytes = Options.LabelKind == StoreLabelKind.Values ? Options.LabelCount * sizeof(float) : 0;
        var size = RowOverhead + features.Length + labelBytes + (prediction?.Length ?? 0) + (modelVersion?.Length ?? 0);
        _bounds.MakeRoom(size);
        var rowId = _bounds.NextRowId();
        var (labelClass, labelValues) = SampleDatabase.LabelColumns(label);
        var p = _insert.Parameters;
        p[0].Value = rowId;
        p[1].Value = _bounds.NowMs;
        p[2].Value = (int)state;
        p[3].Value = features;
        p[4].Value = labelClass;
        p[5].Value = labelValues;
        p[6].Value = SampleDatabase.DbValue(prediction);
        p[7].Value = SampleDatabase.DbValue(modelVersion);
        p[8].Value = size;
        _insert.ExecuteNonQuery();
        _bounds.Inserted(rowId, size);
        return _ids.Encode(rowId);
    }

    private int FinishTaken(IEnumerable<long> sampleIds, bool used)
    {
        ArgumentNullException.ThrowIfNull(sampleIds);
        var count = 0;
        lock (_gate)
        {
            ThrowIfDisposed();
            InTransaction(() => count = _taken.FinishLocked(sampleIds, used));
        }
        return count;
    }
}
