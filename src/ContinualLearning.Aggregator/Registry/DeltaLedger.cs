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

/// <summary>
/// Every delta id ever accepted (so a re-sent or re-delivered delta is never counted twice, also across restarts) and
/// the accepted-but-not-yet-aggregated deltas themselves, inserted in the same transaction as the id so an accepted
/// delta cannot be lost.
/// </summary>
public sealed class DeltaLedger
{
    private readonly RegistryDatabase _db;

    internal DeltaLedger(RegistryDatabase db) => _db = db;

    /// <summary>
    /// Records the delta id and buffers the delta in one transaction. False when the id was seen before (a duplicate:
    /// QoS 1 redelivery, a device re-sending, or a restart between receive and acknowledge).
    /// </summary>
    public bool TryAccept(string name, PendingDelta delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        var received = RegistryDatabase.Format(delta.Received);
        return _db.InTransaction(() =>
        {
            var inserted = _db.Execute(
                "INSERT OR IGNORE INTO seen_deltas(delta_id, name, device_id, base_version, received_utc, state) VALUES($id,$n,$d,$b,$r,$s)",
                ("$id", delta.DeltaId), ("$n", name), ("$d", delta.DeviceId), ("$b", delta.BaseVersion), ("$r", received), ("$s", DeltaState.Pending.ToText()));
            if (inserted == 0) return false;
            _db.Execute(
                "INSERT INTO pending_deltas(delta_id, name, device_id, base_version, sample_count, received_utc, payload) VALUES($id,$n,$d,$b,$s,$r,$p)",
                ("$id", delta.DeltaId), ("$n", name), ("$d", delta.DeviceId), ("$b", delta.BaseVersion), ("$s", delta.SampleCount), ("$r", received), ("$p", delta.Payload));
            return true;
        });
    }

    public bool IsSeen(string deltaId) => _db.Scalar("SELECT 1 FROM seen_deltas WHERE delta_id=$id", ("$id", deltaId)) is not null;

    public int PendingCount(string name) => _db.Count("SELECT COUNT(*) FROM pending_deltas WHERE name=$n", ("$n", name));

    /// <summary>When the oldest buffered delta arrived, or null when nothing is buffered.</summary>
    public DateTimeOffset? OldestPending(string name) =>
        _db.Scalar("SELECT MIN(received_utc) FROM pending_deltas WHERE name=$n", ("$n", name)) is string s ? RegistryDatabase.Parse(s) : null;

    /// <summary>The buffered deltas of a model, oldest first.</summary>
    public IReadOnlyList<PendingDelta> ListPending(string name) => _db.Query(
        "SELECT delta_id, device_id, base_version, sample_count, received_utc, payload FROM pending_deltas WHERE name=$n ORDER BY received_utc, delta_id",
        r => new PendingDelta(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), RegistryDatabase.Parse(r.GetString(4)), (byte[])r.GetValue(5)),
        ("$n", name));

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
