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

    internal DeltaLedger(RegistryDatabase db)
    {
        _db = db;
        // The per-device questions (quota, "is this device known") are asked per message; without these indexes each
        // would scan the tables. Created here, with the queries that need them; IF NOT EXISTS upgrades older registries.
        _db.Execute("""
            CREATE INDEX IF NOT EXISTS pending_by_device ON pending_deltas(name, device_id);
            CREATE INDEX IF NOT EXISTS seen_by_device ON seen_deltas(name, device_id);
            """);
    }

    /// <summary>
    /// Records the delta id and buffers the delta in one transaction, unless the id was seen before (a duplicate: QoS 1
    /// redelivery, a device re-sending, or a restart between receive and acknowledge) or a pending bound is reached.
    /// </summary>
    public DeltaAdmission Admit(string name, PendingDelta delta, PendingLimits limits)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var received = RegistryDatabase.Format(delta.Received);
        return _db.InTransaction(() =>
        {
            // Duplicate first: a redelivery of a buffered delta is a duplicate even when the buffer is full.
            if (IsSeen(delta.DeltaId)) return DeltaAdmission.Duplicate;
            if (PendingCount(name) >= limits.MaxPending) return DeltaAdmission.PendingFull;
            if (_db.Count("SELECT COUNT(*) FROM pending_deltas WHERE name=$n AND device_id=$d", ("$n", name), ("$d", delta.DeviceId)) >= limits.MaxPerDevice)
                return DeltaAdmission.DeviceQuota;
            _db.Execute(
                "INSERT INTO seen_deltas(delta_id, name, device_id, base_version, received_utc, state) VALUES($id,$n,$d,$b,$r,$s)",
                ("$id", delta.DeltaId), ("$n", name), ("$d", delta.DeviceId), ("$b", delta.BaseVersion), ("$r", received), ("$s", DeltaState.Pending.ToText()));
            _db.Execute(
                "INSERT INTO pending_deltas(delta_id, name, device_id, base_version, sample_count, received_utc, payload) VALUES($id,$n,$d,$b,$s,$r,$p)",
                ("$id", delta.DeltaId), ("$n", name), ("$d", delta.DeviceId), ("$b", delta.BaseVersion), ("$s", delta.SampleCount), ("$r", received), ("$p", delta.Payload));
            return DeltaAdmission.Accepted;
        });
    }

    public bool IsSeen(string deltaId) => _db.Scalar("SELECT 1 FROM seen_deltas WHERE delta_id=$id", ("$id", deltaId)) is not null;

    /// <summary>True when at least one delta of <paramref name="deviceId"/> for the model was ever accepted.</summary>
    public bool HasAccepted(string name, string deviceId) =>
        _db.Scalar("SELECT 1 FROM seen_deltas WHERE name=$n AND device_id=$d LIMIT 1", ("$n", name), ("$d", deviceId)) is not null;

    public int PendingCount(string name) => _db.Count("SELECT COUNT(*) FROM pending_deltas WHERE name=$n", ("$n", name));

    /// <summary>How many deltas are buffered, from how many devices, and when the oldest arrived; no payload is read.</summary>
    public PendingSummary Summary(string name) => _db.Query(
        "SELECT COUNT(*), COUNT(DISTINCT device_id), MIN(received_utc) FROM pending_deltas WHERE name=$n",
        r => new PendingSummary(r.GetInt32(0), r.GetInt32(1), r.IsDBNull(2) ? null : RegistryDatabase.Parse(r.GetString(2))),
        ("$n", name))[0];

    /// <summary>When the oldest buffered delta arrived, or null when nothing is buffered.</summary>
    public DateTimeOffset? OldestPending(string name) => Summary(name).Oldest;

    /// <summary>The buffered deltas of a model, oldest first, at most <paramref name="limit"/> of them.</summary>
    public IReadOnlyList<PendingDelta> ListPending(string name, int limit = int.MaxValue) => _db.Query(
        "SELECT delta_id, device_id, base_version, sample_count, received_utc, payload FROM pending_deltas WHERE name=$n ORDER BY received_utc, delta_id LIMIT $l",
        r => new PendingDelta(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), RegistryDatabase.Parse(r.GetString(4)), (byte[])r.GetValue(5)),
        ("$n", name), ("$l", limit));

    /// <summary>Removes buffered deltas and marks their ids with their final state (aggregated into <paramref name="version"/>, or dropped).</summary>
    public void Consume(IEnumerable<string> deltaIds, DeltaState state, string? version)
    {
        ArgumentNullException.ThrowIfNull(deltaIds);
        foreach (var id in deltaIds)
        {
            _db.Execute("DELETE FROM pending_deltas WHERE delta_id=$id", ("$id", id));
            _db.Execute("UPDATE seen_deltas SET state=$s, version=$v WHERE delta_id=$id", ("$s", state.ToText()), ("$v", version), ("$id", id));
        }
    }

    /// <summary>How many delta ids are in each state.</summary>
    public IReadOnlyDictionary<DeltaState, int> States() =>
        _db.CountBy("SELECT state, COUNT(*) FROM seen_deltas GROUP BY state", WireText.Parse<DeltaState>);
}
