using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace ContinualLearning.Aggregator.Console;

/// <summary>The console's read endpoints under <c>/api/v1</c> (docs/console.md, "Endpoints"). Open to anyone who reaches the address.</summary>
internal static class ConsoleReadApi
{
    public const int MaxHours = 24 * 7;
    public const int MaxListLimit = 1_000;

    public static void Map(RouteGroupBuilder api, ConsoleSources s)
    {
        api.MapGet("/overview", () => TypedResults.Ok(Overview(s))).WithName("overview").WithSummary("Fleet counts, newest version, current release, last canary, rejections, health.");
        api.MapGet("/devices", (HttpRequest request) => TypedResults.Ok(s.Fleet.Query(DeviceQuery.Parse(request.Query))))
            .WithName("devices").WithSummary("The device table: search (substring of id, version, cohort), sort, order, offset, limit ≤ 500.");
        api.MapGet("/devices/{id}", Results<Ok<DeviceDetail>, ProblemHttpResult> (string id) =>
                s.Fleet.Get(id) is { } d ? TypedResults.Ok(d) : NotFound("device", id))
            .WithName("device").WithSummary("One device with its recent accuracy and drift alarms.");
        api.MapGet("/versions", (string? model) => TypedResults.Ok(s.View.Versions(s.Clusters.ReadableModel(model))))
            .WithName("versions").WithSummary("Versions of the model, newest first; model= one of its cluster models (default: the configured model).")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapGet("/versions/{version}", Results<Ok<VersionDetail>, ProblemHttpResult> (string version, string? model) =>
            {
                var name = s.Clusters.ReadableModel(model);
                return s.View.Version(name, version) is { } v ? TypedResults.Ok(v) : NotFound("version", version, name);
            })
            .WithName("version").WithSummary("One version: lineage (root first), metrics, decisions, contributing devices and deltas; model= as for /versions.")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapGet("/clusters", () => TypedResults.Ok(s.Clusters.List()))
            .WithName("clusters").WithSummary("Concept-aware aggregation: whether clustering is on and every cluster of the model (live and retired) with its release, lineage and devices.");
        api.MapGet("/rollouts", () => TypedResults.Ok(s.View.Rollouts())).WithName("rollouts").WithSummary("Canaries, newest first, with canary-vs-control points and verdicts.");
        api.MapGet("/accuracy", (HttpRequest request) =>
            {
                var since = s.Time.GetUtcNow().AddHours(-DeviceQuery.Whole(request.Query, "hours", 24, 1, MaxHours));
                return TypedResults.Ok(s.Telemetry.AccuracyPerMinute(since).Select(p => new FleetAccuracyPoint(p.T, p.Accuracy, p.Devices)).ToArray());
            })
            .WithName("accuracy").WithSummary("Fleet mean accuracy per minute from telemetry.");
        api.MapGet("/drift", (HttpRequest request) =>
            {
                var since = s.Time.GetUtcNow().AddHours(-DeviceQuery.Whole(request.Query, "hours", 24, 1, MaxHours));
                return TypedResults.Ok(s.Telemetry.Alarms(since).Select(a => new DriftPoint(a.T, a.DeviceId, a.Detector)).ToArray());
            })
            .WithName("drift").WithSummary("Drift alarms: a device's telemetry turning to drift.");
        api.MapGet("/rejections", (HttpRequest request) => TypedResults.Ok(s.View.Rejections(DeviceQuery.Whole(request.Query, "limit", 100, 1, MaxListLimit))))
            .WithName("rejections").WithSummary("Rejected deltas by reason and device, and the most recent ones.");
        api.MapGet("/audit", (HttpRequest request) => TypedResults.Ok(s.View.Audit(DeviceQuery.Whole(request.Query, "limit", 100, 1, MaxListLimit))))
            .WithName("audit").WithSummary("Operator actions asked of the console, newest first.");
        api.MapGet("/health", Results<Ok<HealthView>, JsonHttpResult<HealthView>> () =>
            {
                var h = s.Health.Check();
                return h.Healthy ? TypedResults.Ok(new HealthView(true, h.Reason)) : TypedResults.Json(new HealthView(false, h.Reason), statusCode: StatusCodes.Status503ServiceUnavailable);
            })
            .WithName("health").WithSummary("The aggregator's health (as /health of metrics:listen): 200 or 503 with the reason.");
        // Two parameters, so it is not taken for a RequestDelegate, which the OpenAPI document would leave out.
        api.MapGet("/events", (HttpContext context, CancellationToken _) => s.Events.StreamAsync(context))
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream")
            .WithName("events").WithSummary("Server-sent events: device, version, rollout, decision, rejection, audit, overview; a heartbeat comment every 15 s.");
    }

    public static Overview Overview(ConsoleSources s)
    {
        var health = s.Health.Check();
        return new Overview(s.Options.Fleet, s.Options.ModelName, s.Fleet.Counts(), s.View.Latest(), s.View.Release(), s.View.LastCanary(),
            s.View.RejectionsSince(s.Time.GetUtcNow().AddHours(-24)),
            new AggregatorSummary(health.Healthy, health.Reason, s.Metrics.BrokerConnected, s.Registry.Backend), s.Clusters.LiveCount());
    }

    private static ProblemHttpResult NotFound(string what, string id, string? model = null) =>
        TypedResults.Problem($"No {what} '{ContinualLearning.Text.DisplayText.Truncate(id, 64)}'{(model is null ? "" : $" of {model}")} is known to this aggregator.",
            statusCode: StatusCodes.Status404NotFound, title: $"{what} not found");
}

/// <summary>The answer of <c>GET /api/v1/health</c>.</summary>
internal sealed record HealthView(bool Healthy, string Reason);
