namespace ContinualLearning.Aggregator.Registry;

/// <summary>Final state of an accepted delta id in <c>seen_deltas</c>; stored as kebab-case text (<see cref="WireText"/>).</summary>
public enum DeltaState
{
    /// <summary>Buffered, waiting for the next aggregation.</summary>
    Pending,

    /// <summary>Used in a version (the row names it).</summary>
    Aggregated,

    /// <summary>Unusable at aggregation time (its rejection is recorded).</summary>
    Dropped,
}

/// <summary>What <see cref="DeltaLedger.Admit"/> did with a validated delta.</summary>
public enum DeltaAdmission
{
    /// <summary>Recorded and buffered.</summary>
    Accepted,

    /// <summary>The id was accepted before; not counted again.</summary>
    Duplicate,

    /// <summary>The model's pending set is at <see cref="PendingLimits.MaxPending"/>; nothing was recorded, so the same delta may come again.</summary>
    PendingFull,

    /// <summary>The device has <see cref="PendingLimits.MaxPerDevice"/> deltas pending; nothing was recorded, so the same delta may come again.</summary>
    DeviceQuota,
}

/// <summary>Bounds on the buffered deltas of one model: in total and per device.</summary>
public readonly record struct PendingLimits(int MaxPending, int MaxPerDevice);

/// <summary>The buffered deltas of a model without their payloads: enough to decide whether a round is due.</summary>
/// <param name="Count">Deltas buffered.</param>
/// <param name="Devices">Distinct devices among them.</param>
/// <param name="Oldest">When the oldest arrived; null when nothing is buffered.</param>
public readonly record struct PendingSummary(int Count, int Devices, DateTimeOffset? Oldest);

/// <summary>
/// Every delta id ever accepted (so a re-sent or re-delivered delta is never counted twice, also across restarts) and
/// the accepted-but-not-yet-aggregated deltas themselves, inserted in the same transaction as the id so an accepted
/// delta cannot be lost. The pending set is bounded (<see cref="PendingLimits"/>): a delta over a bound is refused
/// before anything is recorded, so it is never half-accepted and the device may send it again.
/// </summary>
public sealed class DeltaLedger
{
    private readonly RegistryDatabase _db;

    internal DeltaLedger(RegistryDatabase db) => _db = db;

    /// <summary>
    /// Records the delta id and buffers the delta in one transaction, unless the id was seen before (a duplicate: QoS 1
    /// redelivery, a device re-sending, or a restart between receive and acknowledge) or a pending bound is reached.
    /// </summary>
    public DeltaAdmission Admit(string name, PendingDelta delta, PendingLimits limits) => AdmitBatch(name, [delta], limits)[0];

    /// <summary>
    /// <see cref="Admit"/> for several deltas in ONE transaction (one commit, one fsync), each judged in order as if
    /// admitted alone: a duplicate inside the batch is a duplicate, and the bounds count what the batch already buffered.
    /// Results are in the order of <paramref name="deltas"/>.
    /// </summary>
    /// <remarks>
    /// The seen-id insert is <c>ON CONFLICT DO NOTHING</c>, so when another host admits the same id at the same moment
    /// one of the two inserts wins and the other reports a duplicate, instead of failing the whole batch.
    /// </remarks>
    public DeltaAdmission[] AdmitBatch(string name, IReadOnlyList<PendingDelta> deltas, PendingLimits limits) => AdmitBatch(name, deltas, limits, out _);

    /// <summary><see cref="AdmitBatch(string, IReadOnlyList{PendingDelta}, PendingLimits)"/>, also saying how many deltas of the model are pending after it.</summary>
    public DeltaAdmission[] AdmitBatch(string name, IReadOnlyList<PendingDelta> deltas, PendingLimits limits, out int pendingAfter)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        if (deltas.Count == 0)
        {
            pendingAfter = PendingCount(name);
            return [];
        }
        for (var i = 0; i < deltas.Count; i++) ArgumentNullException.ThrowIfNull(deltas[i], nameof(deltas));
        var after = 0;
        var admissions = _db.WithAdmissionLock(name, () =>
        {
            // Set-based: the look-ups and inserts of the whole batch go to the engine together (ExecuteEach, QueryAny:
            // a handful of round trips per batch on PostgreSQL instead of four per delta). What is read up front is what
            // one-by-one admission would have read: the admission lock keeps other admissions of this model out until
            // the batch commits.
            var seen = SeenAmong(deltas);
            var perDevice = PendingPerDevice(name, deltas);
            var pending = PendingCount(name);
            var results = new DeltaAdmission[deltas.Count];
            var admitted = new List<int>(deltas.Count);
            for (var i = 0; i < deltas.Count; i++)
            {
                var delta = deltas[i];
                // Duplicate first: a redelivery of a buffered delta is a duplicate even when the buffer is full.
                // Adding to `seen` also makes a repeat of an id inside this batch a duplicate.
                if (seen.Contains(delta.DeltaId)) results[i] = DeltaAdmission.Duplicate;
                else if (pending >= limits.MaxPending) results[i] = DeltaAdmission.PendingFull;
                else if (perDevice.GetValueOrDefault(delta.DeviceId) >= limits.MaxPerDevice) results[i] = DeltaAdmission.DeviceQuota;
                else
                {
                    seen.Add(delta.DeltaId);
                    pending++;
                    perDevice[delta.DeviceId] = perDevice.GetValueOrDefault(delta.DeviceId) + 1;
                    results[i] = DeltaAdmission.Accepted;
                    admitted.Add(i);
                }
            }
            // ON CONFLICT DO NOTHING: an id another model's admission stored a moment ago (not covered by this model's
            // lock) loses here and becomes a duplicate instead of failing the batch. The bounds above counted it, so a
            // later delta of the batch may have been refused early; a refusal records nothing and the device re-sends.
            var stored = InsertSeen(name, deltas, admitted);
            foreach (var i in admitted)
                if (!stored.Contains(deltas[i].DeltaId)) results[i] = DeltaAdmission.Duplicate;
            pending -= admitted.RemoveAll(i => results[i] == DeltaAdmission.Duplicate);
            InsertPending(name, deltas, admitted);
            after = pending;
            return results;
        });
        pendingAfter = after;
        return admissions;
    }

    private HashSet<string> SeenAmong(IReadOnlyList<PendingDelta> deltas) =>
        _db.QueryAny("SELECT delta_id FROM seen_deltas WHERE delta_id = ANY(@ids)", "@ids", Distinct(deltas.Select(d => d.DeltaId)), r => r.GetString(0))
            .ToHashSet(StringComparer.Ordinal);

    private Dictionary<string, int> PendingPerDevice(string name, IReadOnlyList<PendingDelta> deltas) =>
        _db.QueryAny(
                "SELECT device_id, COUNT(*) FROM pending_deltas WHERE name=@n AND device_id = ANY(@devices) GROUP BY device_id",
                "@devices", Distinct(deltas.Select(d => d.DeviceId)), r => (Device: r.GetString(0), Count: RegistryDatabase.ReadInt(r, 1)), ("@n", name))
            .ToDictionary(x => x.Device, x => x.Count, StringComparer.Ordinal);

    private static HashSet<string> Distinct(IEnumerable<string> values) => new(values, StringComparer.Ordinal);

    /// <summary>Inserts the seen ids of <paramref name="rows"/>; returns the ids stored (an id already there is not).</summary>
    private HashSet<string> InsertSeen(string name, IReadOnlyList<PendingDelta> deltas, List<int> rows)
    {
        var state = DeltaState.Pending.ToText();
        var affected = _db.ExecuteEach(
            "INSERT INTO seen_deltas(delta_id, name, device_id, base_version, received_utc, state) VALUES(@id,@n,@d,@b,@r,@s) ON CONFLICT(delta_id) DO NOTHING",
            [.. rows.Select(i => deltas[i]).Select(d => new (string, object?)[] { ("@id", d.DeltaId), ("@n", name), ("@d", d.DeviceId), ("@b", d.BaseVersion), ("@r", d.Received), ("@s", state) })]);
        var stored = new HashSet<string>(StringComparer.Ordinal);
        for (var k = 0; k < rows.Count; k++)
            if (affected[k] == 1) stored.Add(deltas[rows[k]].DeltaId);
        return stored;
    }

    private void InsertPending(string name, IReadOnlyList<PendingDelta> deltas, List<int> rows) => _db.ExecuteEach(
        "INSERT INTO pending_deltas(delta_id, name, device_id, base_version, sample_count, received_utc, payload) VALUES(@id,@n,@d,@b,@s,@r,@p)",
        [.. rows.Select(i => deltas[i]).Select(d => new (string, object?)[] { ("@id", d.DeltaId), ("@n", name), ("@d", d.DeviceId), ("@b", d.BaseVersion), ("@s", d.SampleCount), ("@r", d.Received), ("@p", d.Payload) })]);

    public bool IsSeen(string deltaId) => _db.Scalar("SELECT 1 FROM seen_deltas WHERE delta_id=@id", ("@id", deltaId)) is not null;

    /// <summary>True when at least one delta of <paramref name="deviceId"/> for the model was ever accepted.</summary>
    public bool HasAccepted(string name, string deviceId) =>
        _db.Scalar("SELECT 1 FROM seen_deltas WHERE name=@n AND device_id=@d LIMIT 1", ("@n", name), ("@d", deviceId)) is not null;

    public int PendingCount(string name) => _db.Count("SELECT COUNT(*) FROM pending_deltas WHERE name=@n", ("@n", name));

    /// <summary>How many deltas are buffered, from how many devices, and when the oldest arrived; no payload is read.</summary>
    public PendingSummary Summary(string name) => _db.Query(
        "SELECT COUNT(*), COUNT(DISTINCT device_id), MIN(received_utc) FROM pending_deltas WHERE name=@n",
        r => new PendingSummary(RegistryDatabase.ReadInt(r, 0), RegistryDatabase.ReadInt(r, 1), RegistryDatabase.ReadTimeOrNull(r, 2)),
        ("@n", name))[0];

    /// <summary>When the oldest buffered delta arrived, or null when nothing is buffered.</summary>
    public DateTimeOffset? OldestPending(string name) => Summary(name).Oldest;

    /// <summary>The buffered deltas of a model, oldest first (ties by delta id), at most <paramref name="limit"/> of them.</summary>
    public IReadOnlyList<PendingDelta> ListPending(string name, int limit = int.MaxValue) => _db.Query(
        "SELECT delta_id, device_id, base_version, sample_count, received_utc, payload FROM pending_deltas WHERE name=@n ORDER BY received_utc, delta_id LIMIT @l",
        r => new PendingDelta(r.GetString(0), r.GetString(1), r.GetString(2), RegistryDatabase.ReadLong(r, 3), RegistryDatabase.ReadTime(r, 4), (byte[])r.GetValue(5)),
        ("@n", name), ("@l", limit));

    /// <summary>
    /// <see cref="ListPending"/> without the payloads (each <see cref="PendingDelta.Payload"/> is empty): what a caller
    /// that looks at every tick needs to decide which few payloads to read (<see cref="GetPending"/>).
    /// </summary>
    public IReadOnlyList<PendingDelta> ListPendingWithoutPayload(string name, int limit = int.MaxValue) => _db.Query(
        "SELECT delta_id, device_id, base_version, sample_count, received_utc FROM pending_deltas WHERE name=@n ORDER BY received_utc, delta_id LIMIT @l",
        r => new PendingDelta(r.GetString(0), r.GetString(1), r.GetString(2), RegistryDatabase.ReadLong(r, 3), RegistryDatabase.ReadTime(r, 4), []),
        ("@n", name), ("@l", limit));

    /// <summary>One buffered delta with its payload, or null when it is no longer pending.</summary>
    public PendingDelta? GetPending(string deltaId) => _db.Query(
        "SELECT delta_id, device_id, base_version, sample_count, received_utc, payload FROM pending_deltas WHERE delta_id=@id",
        r => new PendingDelta(r.GetString(0), r.GetString(1), r.GetString(2), RegistryDatabase.ReadLong(r, 3), RegistryDatabase.ReadTime(r, 4), (byte[])r.GetValue(5)),
        ("@id", deltaId)).FirstOrDefault();

    /// <summary>
    /// Re-files a buffered delta under another model (concept-aware aggregation: the creator's delta becomes the first
    /// version of the cluster it created), so its ids and lineage name the model it went into. False when it is not pending.
    /// </summary>
    public bool MovePending(string deltaId, string name)
    {
        if (_db.Execute("UPDATE pending_deltas SET name=@n WHERE delta_id=@id", ("@n", name), ("@id", deltaId)) != 1) return false;
        _db.Execute("UPDATE seen_deltas SET name=@n WHERE delta_id=@id", ("@n", name), ("@id", deltaId));
        return true;
    }

    /// <summary>
    /// Removes buffered deltas and marks their ids with their final state (aggregated into <paramref name="version"/>,
    /// or dropped). Every id must still be pending: one that is not (another round used it) throws, so the caller's
    /// transaction rolls back rather than count a delta twice; an aggregated id is also recorded in
    /// <c>version_deltas</c>, whose primary key makes a second version for the same delta impossible.
    /// </summary>
    public void Consume(IEnumerable<string> deltaIds, DeltaState state, string? version)
    {
        ArgumentNullException.ThrowIfNull(deltaIds);
        if (state == DeltaState.Aggregated) ArgumentException.ThrowIfNullOrEmpty(version);
        var ids = deltaIds.ToArray();
        if (ids.Length == 0) return;
        if (ids.Distinct(StringComparer.Ordinal).Count() != ids.Length)
            throw new ArgumentException("The delta ids to consume repeat an id; each delta is consumed once.", nameof(deltaIds));
        // Set-based (ExecuteAny: one statement per step on PostgreSQL whatever the round's size); ids are primary keys,
        // so "every id affected exactly one row" is "the step affected as many rows as there are ids".
        if (_db.ExecuteAny("DELETE FROM pending_deltas WHERE delta_id = ANY(@ids)", "@ids", ids) != ids.Length) throw NoLongerPending(ids);
        Expect(ids, _db.ExecuteAny("UPDATE seen_deltas SET state=@s, version=@v WHERE delta_id = ANY(@ids) AND state=@p", "@ids", ids,
            ("@s", state.ToText()), ("@v", version), ("@p", DeltaState.Pending.ToText())));
        if (state == DeltaState.Aggregated)
            Expect(ids, _db.ExecuteAny("INSERT INTO version_deltas(delta_id, name, version) SELECT delta_id, name, @v FROM seen_deltas WHERE delta_id = ANY(@ids)",
                "@ids", ids, ("@v", version)));
    }

    private static void Expect(string[] ids, int affected)
    {
        if (affected != ids.Length)
            throw new InvalidOperationException($"{ids.Length - affected} of {ids.Length} deltas are not pending in the ledger: another aggregation consumed them. Nothing of this round is kept.");
    }

    /// <summary>The error naming the ids that are not pending (seen_deltas is not yet changed when the first step fails).</summary>
    private InvalidOperationException NoLongerPending(string[] ids)
    {
        var pending = _db.QueryAny("SELECT delta_id FROM seen_deltas WHERE delta_id = ANY(@ids) AND state=@p", "@ids", ids, r => r.GetString(0),
            ("@p", DeltaState.Pending.ToText())).ToHashSet(StringComparer.Ordinal);
        var gone = ids.Where(id => !pending.Contains(id)).ToArray();
        var named = string.Join(", ", gone.Take(5)) + (gone.Length > 5 ? $" and {gone.Length - 5} more" : "");
        return new InvalidOperationException($"Delta {named} is no longer pending: another aggregation consumed it. Nothing of this round is kept.");
    }

    /// <summary>How many of <paramref name="deltaIds"/> are still buffered for <paramref name="name"/> (one look-up for all).</summary>
    public int CountPending(string name, IReadOnlyCollection<string> deltaIds) =>
        _db.QueryAny("SELECT delta_id FROM pending_deltas WHERE name=@n AND delta_id = ANY(@ids)", "@ids", deltaIds, r => r.GetString(0), ("@n", name)).Count;

    /// <summary>How many delta ids are in each state.</summary>
    public IReadOnlyDictionary<DeltaState, int> States() =>
        _db.CountBy("SELECT state, COUNT(*) FROM seen_deltas GROUP BY state", WireText.Parse<DeltaState>);
}
