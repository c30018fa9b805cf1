using System.Text.Json;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Rollout;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// Samples the running canary's cohorts into <see cref="RolloutPointLog"/>: each cohort's accuracy is the mean of its
/// reporting devices' means, as the rollout policy weighs them. Points are stamped to the second, so instances
/// sampling the same canary in the same second store one. The decision adds a last point with the numbers it was
/// made on (the canary's reports are dropped in its transaction).
/// </summary>
internal sealed class RolloutSampler(ModelRegistry registry, string model, TimeProvider time)
{
    /// <summary>Stores a point for the running canary; returns it, or null when no canary runs.</summary>
    public RolloutPoint? Sample()
    {
        if (registry.Latest(model, VersionStatus.Canary) is not { } canary) return null;
        var reports = registry.Canaries.Reports(model, canary.Version);
        (double? Mean, int Reports) Cohort(string cohort)
        {
            var devices = reports.Where(r => r.Cohort == cohort && r.Reports > 0).ToArray();
            return (devices.Length == 0 ? null : devices.Average(d => d.AccuracySum / d.Reports), devices.Sum(d => d.Reports));
        }
        var (canaryMean, canaryReports) = Cohort(Cohorts.Canary);
        var (controlMean, controlReports) = Cohort(CanaryWatch.ControlCohort);
        var point = new RolloutPoint(Second(time.GetUtcNow()), canaryMean, controlMean, canaryReports, controlReports);
        registry.RolloutPoints.Add(model, canary.Version, point);
        return point;
    }

    /// <summary>Stores the point of a verdict (promoted or rolled back) from the numbers recorded with it.</summary>
    public void Verdict(string version)
    {
        var decision = registry.Decisions.List(model, version).LastOrDefault(d => d.Decision is DecisionKind.Promoted or DecisionKind.RolledBack);
        if (decision is null) return;
        using var numbers = JsonDocument.Parse(decision.NumbersJson);
        double? Number(string key) => numbers.RootElement.TryGetProperty(key, out var n) && n.ValueKind == JsonValueKind.Number ? n.GetDouble() : null;
        registry.RolloutPoints.Add(model, version, new RolloutPoint(Second(decision.At), Number("canaryAccuracy"), Number("controlAccuracy"),
            (int)(Number("canaryReports") ?? 0), (int)(Number("controlReports") ?? 0)));
    }

    private static DateTimeOffset Second(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
}
