using System.Security.Cryptography;
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
/// by <see cref="Expire"/> (also run on open and before each <see cref="TakeFreshBatch"/>). Each fresh sample is
/// handed to training once: <see cref="TakeFreshBatch"/> marks rows taken, <see cref="MarkUsed"/> deletes them.
/// </para>
/// Thread-safe: one connection behind one lock.
/// </summary>
public sealed class SampleStore : IDisposable
{
    private const int SchemaVersion = 1;

    /// <summary>Bytes accounted per row on top of its blobs (row header, rowid, integers, B-tree cell overhead).</summary>
    internal const int RowOverhead = 48;

    private static readonly Lazy<bool> s_sqliteInit = new(() =>
    {
        SQLitePCL.Batteries_V2.Init();
        return true;
    });

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly SqliteConnection _connection;
    private readonly SampleIdCodec _ids;
    private readonly List<SqliteCommand> _commands = [];
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _selectForLabel;
    private readonly SqliteCommand _setLabel;
    private readonly SqliteCommand _deleteRow;
    private readonly SqliteCommand _evictOldest;
    private readonly SqliteCommand _expire;
    private readonly SqliteCommand _take;
    private readonly SqliteCommand _deleteTaken;
    private readonly SqliteCommand _releaseTaken;
    private readonly bool _createdDirectory;
    private long _rows;
    private long _bytes;
    private long _lastRowId;
    private long _reservedRowId;
    private long _evicted;
    private long _expired;
    private bool _disposed;

    // Reused (under _gate) for every feature blob written or read: SQLite copies a bound blob when the statement
    // runs, and a row's blob is copied into its float[] at once, so one buffer serves every row. Without it each
    // sample costs two short-lived byte[]s on ingest and two more when a run takes it (docs/benchmarks.md,
    // "Live heap during the burst").
    private byte[] _blobScratch = [];

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

        // Checked before anything is created, so a refused path leaves no directory behind.
        TransientPathGuard.EnsureTransient(DatabasePath, options.AllowPersistent);
        var directory = Path.GetDirectoryName(DatabasePath)!;
        if (!Directory.Exists(directory))
        {
            // Owner-only: the directory holds raw samples.
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
            else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            _createdDirectory = true;
        }

        _ = s_sqliteInit.Value;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // One long-lived connection; a pool would keep the file open after Dispose and block deleting it.
            Pooling = false,
        }.ToString());
        try
        {
            _connection.Open();
            ConfigureConnection(_connection);
            CreateSchema();
            _ids = new SampleIdCodec(LoadOrCreateIdKey());
            CheckOrStoreConfiguration();

            _begin = Prepare("BEGIN IMMEDIATE");
            _commit = Prepare("COMMIT");
            _rollback = Prepare("ROLLBACK");
            _insert = Prepare(
                "INSERT INTO samples(id, time_ms, state, features, label_class, label_values, prediction, model_version, size) " +
                "VALUES ($id, $time, $state, $features, $class, $values, $prediction, $version, $size)",
                "$id", "$time", "$state", "$features", "$class", "$values", "$prediction", "$version", "$size");
            _selectForLabel = Prepare(
                "SELECT time_ms, state, label_class, label_values, prediction, model_version, size FROM samples WHERE id = $id", "$id");
            _setLabel = Prepare(
                "UPDATE samples SET state = 1, label_class = $class, label_values = $values WHERE id = $id AND state = 0",
                "$id", "$class", "$values");
            _deleteRow = Prepare("DELETE FROM samples WHERE id = $id RETURNING size", "$id");
            _evictOldest = Prepare("DELETE FROM samples WHERE id IN (SELECT id FROM samples ORDER BY id LIMIT $n) RETURNING size", "$n");
            _expire = Prepare("DELETE FROM samples WHERE time_ms < $cutoff RETURNING size", "$cutoff");
            _take = Prepare(
                "UPDATE samples SET state = 2 WHERE id IN (SELECT id FROM samples WHERE state = 1 ORDER BY id LIMIT $n) " +
                "RETURNING id, features, label_class, label_values", "$n");
            _deleteTaken = Prepare("DELETE FROM samples WHERE id = $id AND state = 2 RETURNING size", "$id");
            _releaseTaken = Prepare("UPDATE samples SET state = 1 WHERE id = $id AND state = 2", "$id");

            // A training run that crashed never called MarkUsed: its samples are still unused, so make them fresh again.
            Execute("UPDATE samples SET state = 1 WHERE state = 2");
            ReloadCounters();
            Replay = new ReplayBuffer(this);
            lock (_gate) ExpireLocked();
        }
        catch
        {
            DisposeConnection();
            throw;
        }
    }

    public SampleStoreOptions Options { get; }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>The replay buffer, kept in the same database (table <c>replay</c>).</summary>
    public ReplayBuffer Replay { get; }

    internal Lock Gate => _gate;

    internal SqliteConnection Connection => _connection;

    internal long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

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
        CheckFeatures(features, null);
        CheckPrediction(prediction, modelVersion);
        var predictionBytes = prediction.IsEmpty ? null : FloatBlob.ToBytes(prediction);
        lock (_gate)
        {
            ThrowIfDisposed();
            return InsertLocked(SampleState.Pending, BlobLocked(features), default, predictionBytes, modelVersion);
        }
    }

    /// <summary>Stores a sample that arrived with its label; it is fresh (ready for training) at once.</summary>
    /// <exception cref="SampleRejectedException">Features or label are invalid; nothing is stored.</exception>
    public long AddLabelled(ReadOnlySpan<float> features, SampleLabel label)
    {
        CheckFeatures(features, null);
        CheckLabel(label, null, null);
        lock (_gate)
        {
            ThrowIfDisposed();
            return InsertLocked(SampleState.Fresh, BlobLocked(features), label, null, null);
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
                CheckFeatures(features, i);
                CheckLabel(label, i, null);
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
        CheckLabel(label, null, sampleId);
        lock (_gate)
        {
            ThrowIfDisposed();
            return AddLabelLocked(sampleId, label, null);
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
                        CheckLabel(labels[i].Label, i, labels[i].SampleId);
                        joins[i] = AddLabelLocked(labels[i].SampleId, labels[i].Label, i);
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
            ExpireLocked();
            _take.Parameters[0].Value = max;
            using (var reader = _take.ExecuteReader())
            {
                while (reader.Read())
                {
                    var rowId = reader.GetInt64(0);
                    var features = ReadFloatsLocked(reader, 1);
                    result.Add(new TrainingSample(rowId, features, ReadLabel(reader, 2, 3)));
                }
            }
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
    public int MarkUsed(IEnumerable<long> sampleIds) => ForEachTaken(sampleIds, _deleteTaken, deletes: true);

    /// <summary>Returns taken samples to fresh, for a training run that was abandoned before using them.</summary>
    public int Release(IEnumerable<long> sampleIds) => ForEachTaken(sampleIds, _releaseTaken, deletes: false);

    /// <summary>Deletes samples older than the TTL (labelled or not). Returns how many.</summary>
    public int Expire()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return ExpireLocked();
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
                Execute("DELETE FROM samples");
                Replay.ClearLocked();
            });
            _rows = 0;
            _bytes = 0;
        }
    }

    public StoreStats GetStats()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            long pending = 0, fresh = 0, taken = 0;
            using var cmd = _connection.CreateCommand();
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
            return new StoreStats(pending, fresh, taken, _bytes, Replay.CountLocked, _evicted, _expired);
        }
    }

    /// <summary>Closes the database; deletes its files when <see cref="SampleStoreOptions.DeleteOnDispose"/> is set.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            DisposeConnection();
            if (!Options.DeleteOnDispose) return;
            var directory = Path.GetDirectoryName(DatabasePath)!;
            if (!Directory.Exists(directory)) return;
            foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
                File.Delete(DatabasePath + suffix);
            if (_createdDirectory && Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
                Directory.Delete(directory);
        }
    }

    // ---- internals shared with ReplayBuffer ----

    internal SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var name in parameters) cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
        cmd.Prepare();
        _commands.Add(cmd);
        return cmd;
    }

    internal void Execute(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="body"/> in one transaction (caller holds the lock); on failure rolls back and re-reads the counters.</summary>
    internal void InTransaction(Action body)
    {
        _begin.ExecuteNonQuery();
        try
        {
            body();
            _commit.ExecuteNonQuery();
        }
        catch
        {
            _rollback.ExecuteNonQuery();
            ReloadCounters();
            Replay?.ReloadLocked();
            throw;
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    internal long EncodeId(long rowId) => _ids.Encode(rowId);

    internal static object DbValue(object? value) => value ?? DBNull.Value;

    /// <summary>
    /// <paramref name="values"/> as a float32 blob in the shared scratch buffer (caller holds the gate). Valid until the
    /// next call: bind it to a parameter and execute the statement before writing another blob.
    /// </summary>
    internal byte[] BlobLocked(ReadOnlySpan<float> values)
    {
        var length = values.Length * sizeof(float);
        // The parameter binds the whole array, so its length must be exact; the feature width rarely changes.
        if (_blobScratch.Length != length) _blobScratch = new byte[length];
        FloatBlob.Write(values, _blobScratch);
        return _blobScratch;
    }

    /// <summary>A float32 blob column as a new float[], read through the scratch buffer (caller holds the gate).</summary>
    internal float[] ReadFloatsLocked(SqliteDataReader reader, int ordinal)
    {
        var length = checked((int)reader.GetBytes(ordinal, 0, null, 0, 0));
        if (_blobScratch.Length < length) _blobScratch = new byte[length];
        var read = checked((int)reader.GetBytes(ordinal, 0, _blobScratch, 0, length));
        return FloatBlob.ToFloats(_blobScratch.AsSpan(0, read));
    }

    internal static SampleLabel ReadLabel(SqliteDataReader reader, int classColumn, int valuesColumn)
    {
        if (!reader.IsDBNull(valuesColumn)) return SampleLabel.FromValues(FloatBlob.ToFloats((byte[])reader.GetValue(valuesColumn)));
        if (!reader.IsDBNull(classColumn)) return SampleLabel.Class(reader.GetInt32(classColumn));
        return default;
    }

    /// <summary>Feature checks shared with the replay buffer (which has its own width: training features may be embeddings).</summary>
    internal void CheckFeatures(ReadOnlySpan<float> features, int? index) => CheckFeatures(features, index, Options.FeatureCount, "FeatureCount");

    internal void CheckFeatures(ReadOnlySpan<float> features, int? index, int? expected, string expectedWhat)
    {
        var where = index is { } i ? $"Sample {i} of the batch" : "Sample";
        if (features.Length > Options.MaxFeatureCount)
            throw new SampleRejectedException(SampleRejectionReason.FeaturesTooLarge,
                $"{where} has {features.Length} features, more than MaxFeatureCount = {Options.MaxFeatureCount}. Send at most {Options.MaxFeatureCount} or raise {nameof(SampleStoreOptions.MaxFeatureCount)}.");
        if (features.Length == 0 || (expected is { } n && features.Length != n))
            throw new SampleRejectedException(SampleRejectionReason.WrongFeatureCount,
                expected is { } m
                    ? $"{where} has {features.Length} features; this store expects {m} ({expectedWhat}). Check the sender's input schema against the model's."
                    : $"{where} has no features; send at least one.");
        if (RowOverhead + features.Length * sizeof(float) > Options.MaxBytes)
            throw new SampleRejectedException(SampleRejectionReason.FeaturesTooLarge,
                $"{where} needs {RowOverhead + features.Length * sizeof(float)} bytes, more than the whole store may hold (MaxBytes = {Options.MaxBytes}).");
        var bad = FloatBlob.FirstNonFinite(features);
        if (bad >= 0)
            throw new SampleRejectedException(SampleRejectionReason.NonFiniteFeature,
                $"{where} has a non-finite feature: feature {bad} = {features[bad]}. Fix or drop missing values before sending (NaN/Infinity cannot be trained on).");
    }

    internal void CheckLabel(in SampleLabel label, int? index, long? sampleId)
    {
        var where = (index, sampleId) switch
        {
            ({ } i, { } id) => $"Label {i} of the batch (sample {id})",
            ({ } i, null) => $"Sample {i} of the batch",
            (null, { } id) => $"Label for sample {id}",
            _ => "Sample",
        };
        var n = Options.LabelCount;
        if (Options.LabelKind == StoreLabelKind.Class)
        {
            if (label.Kind != SampleLabelKind.Class)
                throw new SampleRejectedException(SampleRejectionReason.UnknownLabel,
                    $"{where}: got {label}; this store takes class labels 0…{n - 1}. Send a class index.", sampleId);
            if ((uint)label.ClassIndex >= (uint)n)
                throw new SampleRejectedException(SampleRejectionReason.UnknownLabel,
                    $"{where}: class {label.ClassIndex} is outside 0…{n - 1} (LabelCount = {n}). Map the label to the model's label set.", sampleId);
            return;
        }
        if (label.Kind != SampleLabelKind.Values)
            throw new SampleRejectedException(SampleRejectionReason.UnknownLabel,
                $"{where}: got {label}; this store takes {n} real value(s) per label. Send values.", sampleId);
        if (label.Values.Length != n)
            throw new SampleRejectedException(SampleRejectionReason.WrongLabelWidth,
                $"{where}: the label has {label.Values.Length} values; this store expects {n} (LabelCount).", sampleId);
        var bad = FloatBlob.FirstNonFinite(label.Values);
        if (bad >= 0)
            throw new SampleRejectedException(SampleRejectionReason.NonFiniteLabel,
                $"{where}: label value {bad} = {label.Values[bad]} is not finite. Send finite numbers.", sampleId);
    }

    internal static (object Class, object Values) LabelColumns(in SampleLabel label) => label.Kind switch
    {
        SampleLabelKind.Class => (label.ClassIndex, DBNull.Value),
        SampleLabelKind.Values => (DBNull.Value, FloatBlob.ToBytes(label.Values)),
        _ => (DBNull.Value, DBNull.Value),
    };

    // ---- private ----

    private void CheckPrediction(ReadOnlySpan<float> prediction, string modelVersion)
    {
        if (prediction.Length > Options.MaxPredictionCount)
            throw new SampleRejectedException(SampleRejectionReason.InvalidPrediction,
                $"The served prediction has {prediction.Length} values, more than MaxPredictionCount = {Options.MaxPredictionCount}.");
        var bad = FloatBlob.FirstNonFinite(prediction);
        if (bad >= 0)
            throw new SampleRejectedException(SampleRejectionReason.InvalidPrediction,
                $"The served prediction has a non-finite value: output {bad} = {prediction[bad]}. The model produced NaN/Infinity; check it before logging.");
        if (string.IsNullOrEmpty(modelVersion) || modelVersion.Length > Options.MaxModelVersionLength)
            throw new SampleRejectedException(SampleRejectionReason.InvalidModelVersion,
                $"Model version '{modelVersion}' is {(string.IsNullOrEmpty(modelVersion) ? "empty" : $"{modelVersion.Length} characters long")}; give the serving model's version in 1…{Options.MaxModelVersionLength} characters.");
    }

    private long InsertLocked(SampleState state, byte[] features, SampleLabel label, byte[]? prediction, string? modelVersion)
    {
        // Room for a values label is reserved up front so joining a label later never grows the row's accounted size.
        var labelBytes = Options.LabelKind == StoreLabelKind.Values ? Options.LabelCount * sizeof(float) : 0;
        var size = RowOverhead + features.Length + labelBytes + (prediction?.Length ?? 0) + (modelVersion?.Length ?? 0);
        MakeRoomLocked(size);
        var rowId = _lastRowId + 1;
        if (rowId > _reservedRowId) ReserveRowIds(rowId);
        var (labelClass, labelValues) = LabelColumns(label);
        var p = _insert.Parameters;
        p[0].Value = rowId;
        p[1].Value = NowMs;
        p[2].Value = (int)state;
        p[3].Value = features;
        p[4].Value = labelClass;
        p[5].Value = labelValues;
        p[6].Value = DbValue(prediction);
        p[7].Value = DbValue(modelVersion);
        p[8].Value = size;
        _insert.ExecuteNonQuery();
        _lastRowId = rowId;
        _rows++;
        _bytes += size;
        return _ids.Encode(rowId);
    }

    /// <summary>
    /// Row ids are issued from memory and reserved in the meta table in blocks, so an id is never reused — even after
    /// its row was deleted and the store reopened — at the cost of one meta write per block instead of one per row
    /// (which AUTOINCREMENT would pay).
    /// </summary>
    private void ReserveRowIds(long needed)
    {
        _reservedRowId = needed + RowIdBlock;
        SetMeta("reserved_row_id", _reservedRowId);
    }

    private const int RowIdBlock = 4096;

    private void MakeRoomLocked(long size)
    {
        if (_rows + 1 <= Options.MaxRows && _bytes + size <= Options.MaxBytes) return;
        // Evict in chunks of ~1/128 of the bounds: one DELETE per chunk instead of one per insert once the store is
        // full. The store then briefly holds up to 1/128 less than its bound.
        var rowTarget = Options.MaxRows - 1 - Options.MaxRows / 128;
        var byteTarget = Options.MaxBytes - size - Options.MaxBytes / 128;
        while (_rows > 0 && (_rows > rowTarget || _bytes > byteTarget))
        {
            var byRows = _rows - rowTarget;
            var excess = _bytes - byteTarget;
            var average = Math.Max(1, _bytes / _rows);
            var byBytes = excess > 0 ? (excess + average - 1) / average : 0;
            var n = Math.Max(1, Math.Max(byRows, byBytes));
            _evictOldest.Parameters[0].Value = n;
            _evicted += DeleteReturningSizes(_evictOldest);
        }
    }

    /// <summary>Runs a DELETE … RETURNING size and updates the counters; returns rows deleted.</summary>
    private int DeleteReturningSizes(SqliteCommand command)
    {
        var count = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            _bytes -= reader.GetInt64(0);
            count++;
        }
        _rows -= count;
        return count;
    }

    private int ExpireLocked()
    {
        if (Options.Ttl == Timeout.InfiniteTimeSpan) return 0;
        _expire.Parameters[0].Value = ExpiryCutoffMs();
        var n = DeleteReturningSizes(_expire);
        _expired += n;
        return n;
    }

    private long ExpiryCutoffMs() =>
        Options.Ttl == Timeout.InfiniteTimeSpan ? long.MinValue : NowMs - (long)Options.Ttl.TotalMilliseconds;

    private LabelJoin AddLabelLocked(long sampleId, SampleLabel label, int? index)
    {
        var where = index is { } i ? $"Label {i} of the batch: sample id {sampleId}" : $"Sample id {sampleId}";
        var rowId = _ids.Decode(sampleId);
        if (rowId < 1 || rowId > _lastRowId)
            throw new SampleRejectedException(SampleRejectionReason.UnknownSampleId,
                $"{where} was never issued by this store ({DatabasePath}). Use the id returned with the prediction; ids from a store whose file was deleted are not valid.", sampleId);

        long timeMs;
        SampleState state;
        SampleLabel existing;
        float[]? prediction;
        string? version;
        _selectForLabel.Parameters[0].Value = rowId;
        using (var reader = _selectForLabel.ExecuteReader())
        {
            if (!reader.Read())
                throw new SampleRejectedException(SampleRejectionReason.SampleNoLongerHeld,
                    $"{where} is no longer held: it expired (TTL {Options.Ttl}), was evicted by the store's bounds, or was already used for training. Labels must arrive within the TTL.", sampleId);
            timeMs = reader.GetInt64(0);
            state = (SampleState)reader.GetInt32(1);
            existing = ReadLabel(reader, 2, 3);
            prediction = reader.IsDBNull(4) ? null : FloatBlob.ToFloats((byte[])reader.GetValue(4));
            version = reader.IsDBNull(5) ? null : reader.GetString(5);
        }
        var loggedAt = DateTimeOffset.FromUnixTimeMilliseconds(timeMs);
        if (timeMs < ExpiryCutoffMs())
        {
            _deleteRow.Parameters[0].Value = rowId;
            _expired += DeleteReturningSizes(_deleteRow);
            throw new SampleRejectedException(SampleRejectionReason.ExpiredSample,
                $"{where} expired: logged at {loggedAt:O}, older than the TTL ({Options.Ttl}). It has been deleted; labels must arrive within the TTL.", sampleId);
        }
        if (state != SampleState.Pending)
        {
            if (existing == label) return new LabelJoin(sampleId, loggedAt, prediction, version, label);
            throw new SampleRejectedException(SampleRejectionReason.AlreadyLabelled,
                $"{where} already has {existing}; refusing to overwrite it with {label}. Each sample takes one label.", sampleId);
        }
        var (labelClass, labelValues) = LabelColumns(label);
        _setLabel.Parameters[0].Value = rowId;
        _setLabel.Parameters[1].Value = labelClass;
        _setLabel.Parameters[2].Value = labelValues;
        _setLabel.ExecuteNonQuery();
        return new LabelJoin(sampleId, loggedAt, prediction, version, label);
    }

    private int ForEachTaken(IEnumerable<long> sampleIds, SqliteCommand command, bool deletes)
    {
        ArgumentNullException.ThrowIfNull(sampleIds);
        var count = 0;
        lock (_gate)
        {
            ThrowIfDisposed();
            InTransaction(() =>
            {
                foreach (var id in sampleIds)
                {
                    var rowId = _ids.Decode(id);
                    if (rowId < 1) continue;
                    command.Parameters[0].Value = rowId;
                    count += deletes ? DeleteReturningSizes(command) : command.ExecuteNonQuery();
                }
            });
        }
        return count;
    }

    private static void ConfigureConnection(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        // WAL: its -wal/-shm files sit next to the database, i.e. on the same tmpfs; it lets a CLI read while the
        // daemon writes, and a crashed process leaves a consistent database. temp_store=MEMORY keeps temporary
        // tables, sorts and statement journals off any disk. secure_delete=FAST zeroes deleted rows in pages that are
        // written anyway, so used samples do not linger in free pages.
        cmd.CommandText = "PRAGMA journal_mode=WAL";
        var mode = Convert.ToString(cmd.ExecuteScalar());
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"SQLite refused WAL mode for '{connection.DataSource}' (got '{mode}'); the filesystem must support shared memory (tmpfs does).");
        cmd.CommandText = "PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA secure_delete=FAST; PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=4194304";
        cmd.ExecuteNonQuery();
    }

    private void CreateSchema()
    {
        Execute("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS samples (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                state INTEGER NOT NULL,
                features BLOB NOT NULL,
                label_class INTEGER,
                label_values BLOB,
                prediction BLOB,
                model_version TEXT,
                size INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS replay (
                slot INTEGER PRIMARY KEY,
                sample_id INTEGER NOT NULL,
                time_ms INTEGER NOT NULL,
                features BLOB NOT NULL,
                label_class INTEGER,
                label_values BLOB);
            """);
    }

    internal object? GetMeta(string key)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE key = $k";
        cmd.Parameters.AddWithValue("$k", key);
        return cmd.ExecuteScalar();
    }

    internal void SetMeta(string key, object value)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        cmd.Parameters.AddWithValue("$k", key);
        cmd.Parameters.AddWithValue("$v", value);
        cmd.ExecuteNonQuery();
    }

    private byte[] LoadOrCreateIdKey()
    {
        if (GetMeta("id_key") is byte[] { Length: SampleIdCodec.KeyLength } key) return key;
        key = RandomNumberGenerator.GetBytes(SampleIdCodec.KeyLength);
        SetMeta("id_key", key);
        return key;
    }

    private void CheckOrStoreConfiguration()
    {
        var wanted = $"schema={SchemaVersion};features={Options.FeatureCount?.ToString() ?? "any"};labels={Options.LabelKind}:{Options.LabelCount}";
        var stored = GetMeta("config") as string;
        if (stored is null)
        {
            SetMeta("config", wanted);
            return;
        }
        if (stored != wanted)
            throw new InvalidOperationException(
                $"The sample store at '{DatabasePath}' was created with '{stored}' but the options now say '{wanted}'. " +
                "Its samples do not fit the current model's input or label set: delete the file (and its -wal/-shm files) or point DatabasePath elsewhere.");
    }

    private void ReloadCounters()
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(MAX(id), 0) FROM samples";
        using (var reader = cmd.ExecuteReader())
        {
            reader.Read();
            _rows = reader.GetInt64(0);
            _bytes = reader.GetInt64(1);
            // Every id ever issued is at most the persisted reservation, so continuing after it never reuses one.
            _reservedRowId = Math.Max(reader.GetInt64(2), GetMeta("reserved_row_id") is long r ? r : 0);
        }
        _lastRowId = Math.Max(_lastRowId, _reservedRowId);
    }

    private void DisposeConnection()
    {
        foreach (var cmd in _commands) cmd.Dispose();
        _commands.Clear();
        _connection.Dispose();
    }
}
