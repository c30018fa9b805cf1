using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// What the registry database says after a chaos run, read with plain SQL (the same statements on SQLite and
/// PostgreSQL), and the invariants checked on it: every delta sent is in exactly one version or dropped for an allowed
/// reason, no id is counted twice, the versions form one chain, and no canary was decided twice.
/// </summary>
internal sealed record RegistryAudit
{
    /// <summary>Reasons a round may drop a delta in a run where everything is honest: it went stale while it waited.</summary>
    public static readonly IReadOnlySet<string> AllowedDropReasons = new HashSet<string>(StringComparer.Ordinal) { RejectionReason.TooStale.ToText() };

    public required IReadOnlyList<VersionRow> Versions { get; init; }

    public required IReadOnlyDictionary<string, (string State, string? Version)> Seen { get; init; }

    public required int Pending { get; init; }

    public required IReadOnlyList<(long Id, string Version, string Decision)> Decisions { get; init; }

    public required IReadOnlyList<(long Sequence, string Version, string Cohort, bool Published)> Releases { get; init; }

    public required IReadOnlyList<(string? DeltaId, string Reason)> Rejections { get; init; }

    /// <summary>version_deltas: delta id → the one version it is in (its primary key makes "one version" a constraint).</summary>
    public required IReadOnlyDictionary<string, string> VersionDeltas { get; init; }

    internal sealed record VersionRow(long Seq, string Version, string? Parent, string Status, IReadOnlyList<string> DeltaIds);

    /// <summary>Counts for the waiting loop: pending deltas, versions neither decided nor rejected, delta ids seen.</summary>
    public static (int Pending, int Open, int Seen) Progress(DbConnection connection, string model) => (
        Count(connection, "SELECT COUNT(*) FROM pending_deltas WHERE name=@n", model),
        Count(connection, "SELECT COUNT(*) FROM versions WHERE name=@n AND status IN ('candidate','canary')", model),
        Count(connection, "SELECT COUNT(*) FROM seen_deltas WHERE name=@n", model));

    public static RegistryAudit Read(DbConnection connection, string model)
    {
        var versions = Query(connection, "SELECT seq, version, parent, status, delta_ids FROM versions WHERE name=@n ORDER BY seq", model,
            r => new VersionRow(Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), r.GetString(3),
                JsonSerializer.Deserialize<string[]>(Convert.ToString(r.GetValue(4), CultureInfo.InvariantCulture)!) ?? []));
        var seen = Query(connection, "SELECT delta_id, state, version FROM seen_deltas WHERE name=@n", model,
            r => (Id: r.GetString(0), State: r.GetString(1), Version: r.IsDBNull(2) ? null : r.GetString(2)));
        var decisions = Query(connection, "SELECT id, version, decision FROM decisions WHERE name=@n ORDER BY id", model,
            r => (Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), r.GetString(1), r.GetString(2)));
        // sent_utc (the release outbox, migration 0003) is set once the release is on the wire; null means never published.
        var releases = Query(connection, "SELECT sequence, version, cohort, sent_utc FROM releases WHERE name=@n ORDER BY sequence", model,
            r => (Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), r.GetString(1), r.GetString(2), !r.IsDBNull(3)));
        var rejections = Query(connection, "SELECT delta_id, reason FROM rejections", null,
            r => (r.IsDBNull(0) ? null : r.GetString(0), r.GetString(1)));
        var versionDeltas = Query(connection, "SELECT delta_id, version FROM version_deltas WHERE name=@n", model, r => (r.GetString(0), r.GetString(1)))
            .ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal);
        return new RegistryAudit
        {
            Versions = versions,
            Seen = seen.ToDictionary(s => s.Id, s => (s.State, s.Version), StringComparer.Ordinal),
            Pending = Count(connection, "SELECT COUNT(*) FROM pending_deltas WHERE name=@n", model),
            Decisions = decisions,
            Releases = releases,
            Rejections = rejections,
            VersionDeltas = versionDeltas,
        };
    }

    /// <summary>The ids of <paramref name="sent"/> in no version and not dropped: lost.</summary>
    public IEnumerable<string> Unaccounted(IEnumerable<string> sent)
    {
        var inVersions = Versions.SelectMany(v => v.DeltaIds).ToHashSet(StringComparer.Ordinal);
        return sent.Where(id => !inVersions.Contains(id) && !(Seen.TryGetValue(id, out var s) && s.State == DeltaState.Dropped.ToText()));
    }

    /// <summary>Every violated invariant, one line each (empty when the run is clean).</summary>
    public IReadOnlyList<string> Check(IReadOnlyCollection<string> sent, string? lastReleaseOnWire)
    {
        var findings = new List<string>();
        void Fail(string what) => findings.Add(what);

        // (b) No id in two versions.
        var inVersion = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in Versions)
        {
            foreach (var id in v.DeltaIds)
            {
                if (!inVersion.TryAdd(id, v.Version)) Fail($"double-counted: delta {id} is in {inVersion[id]} and in {v.Version}");
            }
        }
        var total = Versions.Sum(v => v.DeltaIds.Count);
        if (total != inVersion.Count) Fail($"double-counted: the versions list {total} delta ids but only {inVersion.Count} distinct ones");
        if (VersionDeltas.Count != inVersion.Count) Fail($"version_deltas has {VersionDeltas.Count} rows, the versions' id lists {inVersion.Count} distinct ids");
        foreach (var (id, version) in inVersion)
        {
            if (VersionDeltas.TryGetValue(id, out var recorded) && recorded != version) Fail($"version_deltas puts {id} in {recorded}, the version lists say {version}");
        }

        // (a) 0 lost: every delta the broker acknowledged is in a version, or dropped for an allowed reason.
        var dropReasons = Rejections.Where(r => r.DeltaId is not null).ToLookup(r => r.DeltaId!, r => r.Reason, StringComparer.Ordinal);
        var lost = new List<string>();
        foreach (var id in sent)
        {
            if (inVersion.TryGetValue(id, out var version))
            {
                if (Seen.TryGetValue(id, out var s) && (s.State != DeltaState.Aggregated.ToText() || s.Version != version))
                    Fail($"delta {id} is in {version} but seen_deltas says {s.State} {s.Version}");
                continue;
            }
            if (Seen.TryGetValue(id, out var seen) && seen.State == DeltaState.Dropped.ToText())
            {
                var reasons = dropReasons[id].ToArray();
                if (!reasons.Any(AllowedDropReasons.Contains)) Fail($"delta {id} dropped for [{string.Join(", ", reasons)}], not an allowed reason");
                continue;
            }
            lost.Add($"{id} ({(Seen.TryGetValue(id, out var st) ? st.State : "never accepted")}; rejections: [{string.Join(", ", dropReasons[id])}])");
        }
        if (lost.Count > 0) Fail($"lost: {lost.Count} of {sent.Count} deltas are in no version: {string.Join("; ", lost.Take(10))}");
        if (Pending != 0) Fail($"{Pending} deltas still pending");
        var unknown = inVersion.Keys.Where(id => !sent.Contains(id)).Take(5).ToArray();
        if (unknown.Length > 0) Fail($"versions hold ids the fleet never sent: {string.Join(", ", unknown)}");

        // (c) One chain: each version's parent is the release current when it was made. A round never starts while a
        // candidate or canary is undecided, so in seq order the current release moves only on a released version.
        var current = Versions.Count > 0 ? Versions[0] : null;
        if (current is null || current.Parent is not null) Fail("no root version without a parent");
        foreach (var v in Versions.Skip(1))
        {
            if (v.Parent is null) Fail($"{v.Version} has no parent: a second root");
            else if (v.Parent != current?.Version) Fail($"{v.Version} (seq {v.Seq}) was built on {v.Parent}, but the release current then was {current?.Version}: a fork");
            if (v.Status is VersionStatus.Candidate or VersionStatus.Canary) Fail($"{v.Version} is still {v.Status} after the drain");
            if (v.Status == VersionStatus.Released) current = v;
        }

        // (d) No canary decided twice; every decided version has its decision and its release on the wire record.
        var verdicts = new[] { DecisionKind.Promoted, DecisionKind.RolledBack, DecisionKind.Released }.Select(d => d.ToText()).ToHashSet(StringComparer.Ordinal);
        var byVersion = Decisions.ToLookup(d => d.Version, d => d.Decision, StringComparer.Ordinal);
        foreach (var v in Versions.Skip(1))
        {
            var decided = byVersion[v.Version].Where(verdicts.Contains).ToArray();
            if (decided.Length > 1) Fail($"{v.Version} decided {decided.Length} times: {string.Join(", ", decided)}");
            var started = byVersion[v.Version].Count(d => d == DecisionKind.CanaryStarted.ToText());
            if (started > 1) Fail($"{v.Version}: canary started {started} times");
            var expected = v.Status switch
            {
                VersionStatus.Released => new[] { DecisionKind.Promoted.ToText(), DecisionKind.Released.ToText() },
                VersionStatus.RolledBack => [DecisionKind.RolledBack.ToText()],
                _ => [],
            };
            if (expected.Length > 0 && !decided.Any(expected.Contains)) Fail($"{v.Version} is {v.Status} without a {string.Join("/", expected)} decision (decisions: [{string.Join(", ", byVersion[v.Version])}])");
            if (v.Status == VersionStatus.Released && !Releases.Any(r => r.Version == v.Version && r.Cohort == "all"))
                Fail($"{v.Version} is released but has no release row to all");
            if (v.Status == VersionStatus.RolledBack && !Releases.Any(r => r.Version == v.Version && r.Cohort == "canary"))
                Fail($"{v.Version} was rolled back but has no canary release row");
        }
        foreach (var r in Releases.Where(r => !r.Published)) Fail($"release {r.Sequence} ({r.Version} to {r.Cohort}) was never published");
        if (current is not null && Releases.Count > 0)
        {
            var last = Releases[^1];
            if (last.Version != current.Version || last.Cohort != "all") Fail($"the last release row is {last.Version} to {last.Cohort}, the chain ends at {current.Version}");
        }
        if (current is not null && lastReleaseOnWire is not null && lastReleaseOnWire != current.Version)
            Fail($"the retained release on the wire is {lastReleaseOnWire}, the chain ends at {current.Version}");
        return findings;
    }

    public string Summary()
    {
        var statuses = Versions.Skip(1).GroupBy(v => v.Status).Select(g => $"{g.Count()} {g.Key}");
        var reasons = Rejections.GroupBy(r => r.Reason).Select(g => $"{g.Count()} {g.Key}");
        return $"{Versions.Count - 1} versions ({string.Join(", ", statuses)}), {Versions.Sum(v => v.DeltaIds.Count)} deltas in versions, "
            + $"{Seen.Count} ids seen, {Decisions.Count} decisions, {Releases.Count} releases, rejections: [{string.Join(", ", reasons)}]";
    }

    private static int Count(DbConnection connection, string sql, string model) =>
        Convert.ToInt32(Query(connection, sql, model, r => r.GetValue(0)).Single(), CultureInfo.InvariantCulture);

    // model: the value of @n, null when the statement has no @n.
    private static List<T> Query<T>(DbConnection connection, string sql, string? model, Func<DbDataReader, T> map)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (model is not null)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@n";
            p.Value = model;
            command.Parameters.Add(p);
        }
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read()) rows.Add(map(reader));
        return rows;
    }
}
