using ContinualLearning.Replay;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.Storage;

/// <summary>
/// The replay buffer: a bounded set of past training samples (features as the head consumed them — embeddings
/// when a backbone exists — plus labels) in table <c>replay</c> of the transient store. Which samples stay is decided
/// by a pure <see cref="IReplayPolicy"/> (reservoir or class-balanced) whose state is saved alongside, so a restart
/// within the same boot resumes it. No TTL: the buffer is the model's memory, bounded by its capacity.
/// <para>
/// The buffer's feature width is fixed by the first sample admitted and may differ from the sample table's
/// (raw features vs embeddings). When the model's input changes, call <see cref="Clear"/>.
/// </para>
/// Thread-safe (shares the store's lock).
/// </summary>
public sealed class ReplayBuffer : IReplaySource
{
    private readonly SampleStore _store;
    private readonly SqliteCommand _upsert;
    private readonly SqliteCommand _select;
    private IReplayPolicy? _policy;
    private int? _featureCount;

    internal ReplayBuffer(SampleStore store)
    {
        _store = store;
        var options = store.Options;
        Capacity = options.ReplayCapacity;
        _upsert = store.Database.Prepare(
            "INSERT OR REPLACE INTO replay(slot, sample_id, time_ms, features, label_class, label_values) VALUES ($slot, $id, $time, $features, $class, $values)",
            "$slot", "$id", "$time", "$features", "$class", "$values");
        _select = store.Database.Prepare("SELECT sample_id, features, label_class, label_values FROM replay WHERE slot = $slot", "$slot");
        lock (store.Gate) ReloadLocked();
    }

    /// <summary>Maximum samples held (0: replay disabled).</summary>
    public int Capacity { get; }

    /// <summary>Which samples stay: reservoir (uniform over all offered) or class-balanced.</summary>
    public ReplayPolicyKind Policy => _store.Options.ReplayPolicy;

    /// <summary>Samples held now.</summary>
    public int Count
    {
        get
        {
            lock (_store.Gate) return CountLocked;
        }
    }

    /// <summary>Samples offered so far (admitted or not), across restarts.</summary>
    public long Seen
    {
        get
        {
            lock (_store.Gate) return _policy?.Seen ?? 0;
        }
    }

    internal int CountLocked => _policy?.Count ?? 0;

    /// <summary>
    /// Offers samples a training run has just used; the policy decides which are kept. Refused samples
    /// (bad features or label) are reported and do not stop the others. Call before <see cref="SampleStore.MarkUsed"/>.
    /// </summary>
    public ReplayOfferResult Offer(IReadOnlyList<TrainingSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var rejections = new List<BatchRejection>();
        var admitted = 0;
        lock (_store.Gate)
        {
            _store.ThrowIfDisposed();
            if (_policy is null) return new ReplayOfferResult(samples.Count, 0, rejections);
            var policy = _policy;
            var featureCount = _featureCount;
            _store.InTransaction(() =>
            {
                var now = _store.NowMs;
                for (var i = 0; i < samples.Count; i++)
                {
                    var sample = samples[i];
                    try
                    {
                        if (sample is null)
                            throw new SampleRejectedException(SampleRejectionReason.WrongFeatureCount, $"Sample {i} of the batch is null.");
                        _store.Validator.CheckFeatures(sample.Features, i, featureCount, "the replay buffer's feature width, set by its first sample; Clear() it when the model input changes");
                        _store.Validator.CheckLabel(sample.Label, i, null);
                    }
                    catch (SampleRejectedException e)
                    {
                        rejections.Add(new BatchRejection(i, e));
                        continue;
                    }
                    if (featureCount is null)
                    {
                        featureCount = sample.Features.Length;
                        _store.Database.SetMeta("replay_features", featureCount.Value);
                    }
                    var slot = policy.Offer(sample.Label.Kind == SampleLabelKind.Class ? sample.Label.ClassIndex : -1);
                    if (slot < 0) continue;
                    var (labelClass, labelValues) = SampleDatabase.LabelColumns(sample.Label);
                    var p = _upsert.Parameters;
                    p[0].Value = slot;
                    p[1].Value = sample.Id;
                    p[2].Value = now;
                    p[3].Value = _store.Database.BlobLocked(sample.Features);
                    p[4].Value = labelClass;
                    p[5].Value = labelValues;
                    _upsert.ExecuteNonQuery();
                    admitted++;
                }
                SaveStateLocked(policy);
            });
            _featureCount = featureCount;
        }
        return new ReplayOfferResult(samples.Count, admitted, rejections);
    }

    /// <summary>Up to <paramref name="count"/> distinct held samples, uniformly at random.</summary>
    public IReadOnlyList<TrainingSample> SampleReplay(int count, Random rng)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentNullException.ThrowIfNull(rng);
        lock (_store.Gate)
        {
            _store.ThrowIfDisposed();
            var held = CountLocked;
            var slots = DistinctSlots(Math.Min(count, held), held, rng);
            var result = new List<TrainingSample>(slots.Length);
            foreach (var slot in slots)
            {
                _select.Parameters[0].Value = slot;
                using var reader = _select.ExecuteReader();
                if (!reader.Read()) throw new InvalidOperationException($"Replay slot {slot} is missing from '{_store.DatabasePath}' although the policy holds {held} samples; the database was changed outside this store.");
                result.Add(new TrainingSample(reader.GetInt64(0), _store.Database.ReadFloatsLocked(reader, 1), SampleDatabase.ReadLabel(reader, 2, 3)));
            }
            return result;
        }
    }

    /// <summary>Samples held per class (class labels only; values labels count under −1).</summary>
    public IReadOnlyDictionary<int, int> CountByClass()
    {
        lock (_store.Gate)
        {
            _store.ThrowIfDisposed();
            var counts = new Dictionary<int, int>();
            using var cmd = _store.Connection.CreateCommand();
            cmd.CommandText = "SELECT COALESCE(label_class, -1), COUNT(*) FROM replay GROUP BY 1";
            using var reader = cmd.ExecuteReader();
            while (reader.Read()) counts[reader.GetInt32(0)] = reader.GetInt32(1);
            return counts;
        }
    }

    /// <summary>Empties the buffer and resets the policy (e.g. after the backbone changed, so old embeddings no longer fit).</summary>
    public void Clear()
    {
        lock (_store.Gate)
        {
            _store.ThrowIfDisposed();
            _store.InTransaction(ClearLocked);
        }
    }

    internal void ClearLocked()
    {
        _store.Database.Execute("DELETE FROM replay; DELETE FROM meta WHERE key IN ('replay_state', 'replay_features')");
        _featureCount = null;
        _policy = Capacity == 0 ? null : ReplayPolicy.Create(Policy, Capacity, _store.Options.LabelCount, _store.Options.ReplaySeed);
        if (_policy is not null) SaveStateLocked(_policy);
    }

    /// <summary>Rebuilds the policy from the table and saved state; clears the buffer when its configuration changed or it is inconsistent.</summary>
    internal void ReloadLocked()
    {
        var options = _store.Options;
        var config = ConfigurationKey(options);
        if (_store.Database.GetMeta("replay_config") as string != config)
        {
            // A different policy or capacity cannot resume the old decisions; the replay buffer is a cache of past
            // training data, so starting it afresh is the honest choice.
            ClearLocked();
            _store.Database.SetMeta("replay_config", config);
            return;
        }
        _featureCount = _store.Database.GetMeta("replay_features") is long n ? (int)n : null;
        if (Capacity == 0)
        {
            _policy = null;
            return;
        }
        var classes = new List<int>();
        using (var cmd = _store.Connection.CreateCommand())
        {
            cmd.CommandText = "SELECT slot, COALESCE(label_class, -1) FROM replay ORDER BY slot";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                if (reader.GetInt64(0) != classes.Count) break;
                classes.Add(reader.GetInt32(1));
            }
        }
        var state = _store.Database.GetMeta("replay_state") as byte[];
        var counts = state is null ? [] : FromBytes(state);
        var seen = counts.Length > 0 ? counts[0] : 0;
        var expectedRows = CountRows();
        if (classes.Count != expectedRows || seen < classes.Count)
        {
            ClearLocked();
            return;
        }
        _policy = ReplayPolicy.Restore(Policy, Capacity, options.LabelCount, options.ReplaySeed,
            new ReplayPolicyState([.. classes], seen, counts.Length > 1 ? counts[1..] : []));
    }

    /// <summary>The replay configuration the database records (meta key <c>replay_config</c>); a change clears the buffer.</summary>
    internal static string ConfigurationKey(SampleStoreOptions options) =>
        $"{options.ReplayPolicy}:{options.ReplayCapacity}:{options.LabelKind}:{options.LabelCount}";

    private long CountRows()
    {
        using var cmd = _store.Connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM replay";
        return (long)cmd.ExecuteScalar()!;
    }

    private void SaveStateLocked(IReplayPolicy policy)
    {
        var state = policy.ExportState();
        _store.Database.SetMeta("replay_state", ToBytes([state.Seen, .. state.SeenPerClass]));
    }

    /// <summary>Floyd's algorithm: <paramref name="k"/> distinct values from [0, n) in O(k), then shuffled.</summary>
    private static int[] DistinctSlots(int k, int n, Random rng)
    {
        var chosen = new HashSet<int>(k);
        var result = new int[k];
        var next = 0;
        for (var j = n - k; j < n; j++)
        {
            var t = rng.Next(j + 1);
            var pick = chosen.Add(t) ? t : j;
            if (pick == j) chosen.Add(j);
            result[next++] = pick;
        }
        rng.Shuffle(result);
        return result;
    }

    internal static byte[] ToBytes(long[] values)
    {
        var bytes = new byte[values.Length * sizeof(long)];
        for (var i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }

    internal static long[] FromBytes(byte[] bytes)
    {
        var values = new long[bytes.Length / sizeof(long)];
        for (var i = 0; i < values.Length; i++) values[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * 8));
        return values;
    }
}
