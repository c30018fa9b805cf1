namespace ContinualLearning.Aggregator.Registry;

/// <summary>Rollout and gate decisions, each with the reason and the numbers it was based on (table <c>decisions</c>).</summary>
public sealed class DecisionLog
{
    private readonly RegistryDatabase _db;
    private readonly TimeProvider _time;

    internal DecisionLog(RegistryDatabase db, TimeProvider time)
    {
        _db = db;
        _time = time;
    }

    public void Record(string name, string version, DecisionKind decision, string reason, string numbersJson) =>
        _db.Execute("INSERT INTO decisions(name, version, decision, at_utc, reason, numbers) VALUES(@n,@v,@d,@a,@r,@x)",
            ("@n", name), ("@v", version), ("@d", decision.ToText()), ("@a", _time.GetUtcNow()), ("@r", reason), ("@x", numbersJson));

    /// <summary>Decisions in the order they were made, optionally only those of one model or version.</summary>
    public IReadOnlyList<RolloutDecisionRecord> List(string? name = null, string? version = null)
    {
        // The filter is built here rather than as "(@n IS NULL OR name=@n)": PostgreSQL cannot type a parameter that is only ever NULL.
        var filters = new List<string>();
        var parameters = new List<(string, object?)>();
        if (name is not null)
        {
            filters.Add("name=@n");
            parameters.Add(("@n", name));
        }
        if (version is not null)
        {
            filters.Add("version=@v");
            parameters.Add(("@v", version));
        }
        var where = filters.Count == 0 ? "" : "WHERE " + string.Join(" AND ", filters);
        return _db.Query(
            $"SELECT id, name, version, decision, at_utc, reason, numbers FROM decisions {where} ORDER BY id",
            r => new RolloutDecisionRecord(r.GetInt64(0), r.GetString(1), r.GetString(2), WireText.Parse<DecisionKind>(r.GetString(3)), RegistryDatabase.ReadTime(r, 4), r.GetString(5), r.GetString(6)),
            [.. parameters]);
    }
}
