using System.Text.Json;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// The registry as the console shows it: versions with lineage, decisions and contributing deltas; rollouts with their
/// sampled points and verdicts; rejections; the audit trail. Reads only, for the aggregator's own model (versions also
/// for its cluster models).
/// </summary>
internal sealed class RegistryView(ModelRegistry registry, string model)
{
    public const int MaxRollouts = 50;

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>The newest version whatever its status (a candidate, a canary, a rolled-back or rejected one).</summary>
    public LatestVersion? Latest() => registry.Newest(model) is { } v ? new LatestVersion(v.Version, v.Status, v.Created) : null;

    /// <summary>The version the fleet is told to run: the newest released one (after a rollback, the one rolled back to).</summary>
    public LatestVersion? Release() =>
        registry.Latest(model, VersionStatus.Released) is { } v ? new LatestVersion(v.Version, v.Status, v.Created) : null;

    /// <summary>The versions of <paramref name="name"/> (the aggregator's model or one of its cluster models), newest first.</summary>
    public IReadOnlyList<VersionSummary> Versions(string name) => registry.ListVersions(name).Reverse()
        .Select(v => new VersionSummary(v.Version, v.Parent, v.Status, v.Created, v.DeltaIds.Count, v.DeviceIds.Distinct(StringComparer.Ordinal).Count(), Json(v.MetricsJson)))
        .ToArray();

    /// <summary>One version of <paramref name="name"/> (the aggregator's model or one of its cluster models), or null.</summary>
    public VersionDetail? Version(string name, string version)
    {
        if (registry.GetVersion(name, version) is not { } v) return null;
        var lineage = registry.Lineage(name, version).Reverse().Select(l => new LineageNode(l.Version, l.Parent, l.Status)).ToArray();
        var decisions = registry.Decisions.List(name, version).Select(Decision).ToArray();
        var deltas = v.DeltaIds.Select((id, i) => new DeltaEntry(id, i < v.DeviceIds.Count ? v.DeviceIds[i] : "")).ToArray();
        return new VersionDetail(v.Version, v.Parent, v.Status, v.Created, lineage, Json(v.MetricsJson), decisions,
            v.DeviceIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(), deltas);
    }

    /// <summary>The newest <see cref="MaxRollouts"/> canaries, newest first, each with its points and verdict.</summary>
    public IReadOnlyList<RolloutView> Rollouts()
    {
        var verdicts = Verdicts();
        return registry.Canaries.List(model, MaxRollouts).Select(c =>
        {
            verdicts.TryGetValue(c.Canary.Version, out var verdict);
            var state = verdict?.Decision switch
            {
                DecisionKind.Promoted => "promoted",
                DecisionKind.RolledBack => "rolled-back",
                // Decided without a verdict of the policy: stopped by an operator's rollback or publish.
                _ when c.Decided is not null || registry.GetVersion(model, c.Canary.Version)?.Status != VersionStatus.Canary => "stopped",
                _ => "running",
            };
            var points = registry.RolloutPoints.List(model, c.Canary.Version)
                .Select(p => new RolloutPointView(p.At, p.CanaryAccuracy, p.ControlAccuracy, p.CanaryReports, p.ControlReports)).ToArray();
            return new RolloutView(c.Canary.Version, c.Canary.ControlVersion, state, c.Canary.Started, c.Decided ?? verdict?.At,
                verdict?.Decision.ToText(), verdict?.Reason, points);
        }).ToArray();
    }

    /// <summary>The newest canary with its verdict and the numbers the verdict was based on; null when none ran.</summary>
    public CanarySummary? LastCanary()
    {
        if (registry.Canaries.List(model, 1) is not [var (canary, decided)]) return null;
        Verdicts().TryGetValue(canary.Version, out var verdict);
        double? Number(string key) =>
            verdict is not null && Json(verdict.NumbersJson) is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(key, out var n) && n.ValueKind == JsonValueKind.Number
                ? n.GetDouble() : null;
        return new CanarySummary(canary.Version, canary.ControlVersion, verdict?.Decision.ToText(), verdict?.Reason,
            Number("canaryAccuracy"), Number("controlAccuracy"), Number("canaryDevices"), Number("controlDevices"), decided ?? verdict?.At);
    }

    public RejectionSummary Rejections(int limit) => new(
        registry.Rejections.Counts().OrderBy(c => c.Key.ToText(), StringComparer.Ordinal).ToDictionary(c => c.Key.ToText(), c => c.Value, StringComparer.Ordinal),
        registry.Rejections.TopDevices(limit).Select(d => new DeviceRejections(d.DeviceId, d.Count)).ToArray(),
        registry.Rejections.Recent(limit).Select(r => new RejectionView(r.At, r.DeviceId, r.Reason.ToText(), r.Message)).ToArray());

    public int RejectionsSince(DateTimeOffset since) => registry.Rejections.CountSince(since);

    public IReadOnlyList<AuditView> Audit(int limit) =>
        registry.Audit.Recent(limit).Select(a => new AuditView(a.At, a.Operator, a.Action, a.Target, a.Outcome, a.Detail)).ToArray();

    private Dictionary<string, RolloutDecisionRecord> Verdicts() => registry.Decisions.List(model)
        .Where(d => d.Decision is DecisionKind.Promoted or DecisionKind.RolledBack)
        .GroupBy(d => d.Version, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    private static DecisionEntry Decision(RolloutDecisionRecord d) => new(d.Decision.ToText(), d.Reason, Json(d.NumbersJson), d.At);

    private static JsonElement Json(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return EmptyObject;
        }
    }
}
