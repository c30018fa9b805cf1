using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// The aggregator's <c>console:listen</c> endpoint (Kestrel, minimal API, like <see cref="Metrics.MetricsEndpoint"/>):
/// the JSON API under <c>/api/v1</c> (<see cref="ConsoleReadApi"/>, <see cref="ConsoleActionApi"/>), its OpenAPI
/// document at <c>/openapi/v1.json</c>, and the page (<see cref="ConsoleAssets"/>). HTTPS from PEM files when
/// <c>console:tls</c> is set, asking for (not requiring) a client certificate when <c>console:clientCa</c> is set.
/// </summary>
internal sealed partial class ConsoleEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ILogger _logger;

    public ConsoleEndpoint(ConsoleSources sources, OperatorAuth auth, ILogger logger)
    {
        var options = sources.Options.Console;
        if (!MetricsOptions.TryParseListen(options.Listen, out var endpoint))
            throw new ArgumentException($"console:listen '{options.Listen}' is not address:port; use e.g. {ConsoleOptions.DefaultListen}.", nameof(sources));
        _logger = logger;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "cl-aggregator-console", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        var certificate = options.TlsCertificate is { } cert ? X509Certificate2.CreateFromPemFile(cert, options.TlsKey) : null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint, listen =>
        {
            if (certificate is null) return;
            listen.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                if (!auth.AcceptsCertificates) return;
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                // Checked against console:clientCa by OperatorAuth; the handshake lets any certificate through so that a
                // request with a wrong one is answered 403 (and audited) rather than cut off without a word.
                https.ClientCertificateValidation = (_, _, _) => true;
            });
        }));
        builder.Services.ConfigureHttpJsonOptions(j =>
        {
            foreach (var c in ConsoleJson.Options.Converters) j.SerializerOptions.Converters.Add(c);
        });
        builder.Services.AddOpenApi("v1");
        _app = builder.Build();
        _app.Use(RefuseBadParameters);
        var api = _app.MapGroup("/api/v1");
        ConsoleReadApi.Map(api, sources);
        ConsoleActionApi.Map(api, sources, auth);
        _app.MapOpenApi("/openapi/{documentName}.json");
        ConsoleAssets.Map(_app);
    }

    /// <summary>The bound address, e.g. http://127.0.0.1:8480 (the real port when 0 was asked for); null before start.</summary>
    public Uri? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        Address = bound is null ? null : new Uri(bound);
        LogServing(_logger, Address);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _app.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    /// <summary>A query parameter the routes could not use is a 400 problem naming it.</summary>
    private static async Task RefuseBadParameters(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (BadParameterException ex) when (!context.Response.HasStarted)
        {
            await Results.Problem(ex.Message, statusCode: StatusCodes.Status400BadRequest, title: $"bad parameter '{ex.Parameter}'",
                extensions: new Dictionary<string, object?> { ["parameter"] = ex.Parameter }).ExecuteAsync(context).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 720, Level = LogLevel.Information, Message = "Serving the fleet console on {Address}")]
    private static partial void LogServing(ILogger logger, Uri? address);
}
