using System.Security.Cryptography;
using System.Text.Json;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ContinualLearning.Aggregator.Console;

/// <summary>An action refused or failed: the HTTP status and the problem's detail.</summary>
internal sealed class ActionRefusedException(int status, string outcome, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Outcome { get; } = outcome;
}

/// <summary>
/// The console's actions (docs/console.md, "Actions"): rollback and publish (of the configured model or a live cluster
/// model), and device commands. Each needs an operator
/// credential (<see cref="OperatorAuth"/>: 401 without one, 403 with a wrong one) and each attempt, refused or not, is an
/// audit row in the registry and a count on <c>cl.aggregator.console.actions</c>.
/// </summary>
internal static class ConsoleActionApi
{
    public const int MaxArgs = 16;
    public const int MaxArgLength = 256;

    public static void Map(RouteGroupBuilder api, ConsoleSources s, OperatorAuth auth)
    {
        api.MapPost("/versions/{version}/rollback", (string version, string? model, HttpContext context) =>
                RunAsync(s, auth, context, "rollback", Target(s, model, version), async (actor, ct) =>
                {
                    var name = Known(s, model, version);
                    var rolledBack = await s.Actions.RollbackAsync(name, version, $"console rollback by {actor}", ct).ConfigureAwait(false);
                    return (TypedResults.Ok(new RollbackResult(name, version, rolledBack)), $"rolled back: {(rolledBack.Count == 0 ? "none" : string.Join(", ", rolledBack))}");
                }))
            .WithName("rollback").WithSummary("Make a released version the release of its model again (as `cl model rollback --model`); model= the configured model (default) or a live cluster model. Operator credential required.")
            .Produces<RollbackResult>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/versions/{version}/publish", (string version, string? model, HttpContext context) =>
                RunAsync(s, auth, context, "publish", Target(s, model, version), async (actor, ct) =>
                {
                    var name = Known(s, model, version);
                    var previous = await s.Actions.PublishAsync(name, version, $"console publish by {actor}", ct).ConfigureAwait(false);
                    return (TypedResults.Ok(new PublishResult(name, version, previous)), $"released (was {previous})");
                }))
            .WithName("publish").WithSummary("Release a registered version to every device of its model; model= as for rollback. Operator credential required.")
            .Produces<PublishResult>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/devices/{id}/commands", (string id, HttpContext context) =>
                RunAsync(s, auth, context, "command", id, async (actor, ct) =>
                {
                    var command = await ReadCommandAsync(context, ct).ConfigureAwait(false);
                    if (s.Options.Console.CommandKey is not { } keyPath)
                        throw new ActionRefusedException(StatusCodes.Status409Conflict, "refused", "no command key configured: set console:commandKey to an operator key the devices trust");
                    if (s.Fleet.Get(id) is null) throw new ActionRefusedException(StatusCodes.Status404NotFound, "refused", $"no device '{DisplayText.Truncate(id, 64)}' is known to this aggregator");
                    using var key = Fleet.Signing.ReleaseKeys.LoadPrivate(keyPath);
                    var commandId = await s.Actions.SendCommandAsync(id, command, key, ct).ConfigureAwait(false);
                    return (TypedResults.Accepted((string?)null, new CommandAccepted(commandId)), $"{WireName(command.Kind)} sent as {commandId}");
                }))
            .WithName("command").WithSummary("Send a signed command (pause, resume, report, train-now, rollback, set-config, wipe-data) to a device. Operator credential required.")
            .Accepts<CommandRequest>("application/json")
            .Produces<CommandAccepted>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static async Task<IResult> RunAsync(ConsoleSources s, OperatorAuth auth, HttpContext context, string action, string target,
        Func<string, CancellationToken, Task<(IResult Result, string Detail)>> body)
    {
        target = DisplayText.Truncate(target, 128) ?? "";
        var credential = await auth.CheckAsync(context).ConfigureAwait(false);
        if (credential.Outcome != CredentialOutcome.Valid)
        {
            var unauthenticated = credential.Outcome == CredentialOutcome.Missing;
            var status = unauthenticated ? StatusCodes.Status401Unauthorized : StatusCodes.Status403Forbidden;
            Audit(s, credential.Operator, action, target, unauthenticated ? "unauthenticated" : "forbidden", credential.Why);
            if (unauthenticated) context.Response.Headers.WWWAuthenticate = "Bearer realm=\"cl-console\"";
            return TypedResults.Problem(credential.Why, statusCode: status, title: unauthenticated ? "operator credential required" : "not an operator credential");
        }
        try
        {
            var (result, detail) = await body(credential.Operator, context.RequestAborted).ConfigureAwait(false);
            Audit(s, credential.Operator, action, target, "done", detail);
            return result;
        }
        catch (ActionRefusedException ex)
        {
            Audit(s, credential.Operator, action, target, ex.Outcome, ex.Message);
            return TypedResults.Problem(ex.Message, statusCode: ex.Status, title: $"{action} {ex.Outcome}");
        }
        catch (InvalidOperationException ex)
        {
            // The shared release logic refuses what it cannot do (a version that was never released, a canary running).
            Audit(s, credential.Operator, action, target, "refused", ex.Message);
            return TypedResults.Problem(ex.Message, statusCode: StatusCodes.Status409Conflict, title: $"{action} refused");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Audit(s, credential.Operator, action, target, "failed", ex.GetType().Name);
            return TypedResults.Problem($"The {action} failed ({ex.GetType().Name}); the aggregator's log has the details.", statusCode: StatusCodes.Status500InternalServerError, title: $"{action} failed");
        }
    }

    /// <summary>The model acted on (the configured one, or a live cluster model: else 400) after checking the version is in the registry (else 404).</summary>
    private static string Known(ConsoleSources s, string? model, string version)
    {
        var name = s.Clusters.ActionModel(model);
        if (s.Registry.GetVersion(name, version) is null)
            throw new ActionRefusedException(StatusCodes.Status404NotFound, "refused", $"no version '{DisplayText.Truncate(version, 64)}' of {name} is in the registry");
        return name;
    }

    /// <summary>The audit row's target: the version, preceded by the model when one other than the configured model is asked for ("m.c1 1.0.0").</summary>
    private static string Target(ConsoleSources s, string? model, string version) =>
        string.IsNullOrEmpty(model) || model == s.Options.ModelName ? version : $"{DisplayText.Truncate(model, 64)} {version}";

    private static void Audit(ConsoleSources s, string actor, string action, string target, string outcome, string detail)
    {
        s.Metrics.ConsoleActions.Add(1, new(Metrics.AggregatorMetrics.ActionTag, action), new(Metrics.AggregatorMetrics.ActionOutcomeTag, outcome));
        s.Registry.Audit.Record(new AuditRecord(s.Time.GetUtcNow(), actor, action, target, outcome, DisplayText.Truncate(detail, 500) ?? ""));
        s.Events.Publish(ConsoleEventKind.Audit, new { action, target, outcome });
    }

    private static async Task<Command> ReadCommandAsync(HttpContext context, CancellationToken ct)
    {
        CommandRequest? request;
        try
        {
            request = await context.Request.ReadFromJsonAsync<CommandRequest>(ConsoleJson.Options, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or BadHttpRequestException)
        {
            throw new ActionRefusedException(StatusCodes.Status400BadRequest, "refused", "the body is not JSON {\"kind\": \"pause\", \"args\": {…}}");
        }
        var kind = Enum.GetValues<CommandKind>().Where(k => WireName(k) == request?.Kind).Select(k => (CommandKind?)k).FirstOrDefault()
            ?? throw new ActionRefusedException(StatusCodes.Status400BadRequest, "refused",
                $"kind must be one of {string.Join(", ", Enum.GetValues<CommandKind>().Select(WireName))}");
        var args = request!.Args ?? new Dictionary<string, string>();
        if (args.Count > MaxArgs || args.Any(a => a.Key.Length > MaxArgLength || a.Value is null || a.Value.Length > MaxArgLength))
            throw new ActionRefusedException(StatusCodes.Status400BadRequest, "refused", $"args must be at most {MaxArgs} text values of at most {MaxArgLength} characters");
        return new Command { CommandId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), Kind = kind, Args = args.Count == 0 ? null : args };
    }

    /// <summary>The command kind as devices spell it on the wire (<c>train-now</c>).</summary>
    private static string WireName(CommandKind kind) =>
        typeof(CommandKind).GetField(kind.ToString())?.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonStringEnumMemberNameAttribute), false)
            .OfType<System.Text.Json.Serialization.JsonStringEnumMemberNameAttribute>().FirstOrDefault()?.Name ?? kind.ToString();
}
