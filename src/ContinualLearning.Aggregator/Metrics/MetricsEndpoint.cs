using ContinualLearning.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Metrics;

/// <summary>
/// The aggregator's <c>metrics:listen</c> endpoint (Kestrel, minimal API): <c>GET /metrics</c> renders the service's
/// meter in the Prometheus text format 0.0.4 (<see cref="PrometheusText"/>), <c>GET /health</c> answers 200 <c>ok</c>
/// or 503 with a one-line reason (<see cref="AggregatorHealth"/>). Made before the service starts, so the counters
/// include everything the service counts and an orchestrator's probe gets an answer while the service connects.
/// </summary>
internal sealed partial class MetricsEndpoint : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly PrometheusText _exposition;
    private readonly ILogger _logger;

    public MetricsEndpoint(AggregatorMetrics metrics, AggregatorHealth health, string listen, ILogger logger)
    {
        if (!MetricsOptions.TryParseListen(listen, out var endpoint))
            throw new ArgumentException($"metrics:listen '{listen}' is not address:port; use e.g. 127.0.0.1:9464.", nameof(listen));
        _logger = logger;
        _exposition = new PrometheusText(metrics.Meter);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "cl-aggregator-metrics", ContentRootPath = AppContext.BaseDirectory });
        // The service logs for itself; Kestrel's own start-up lines would go to a second console logger.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(endpoint));
        _app = builder.Build();
        _app.MapGet("/metrics", () => Results.Text(_exposition.Render(), PrometheusText.ContentType));
        _app.MapGet("/health", () =>
        {
            var report = health.Check();
            return Results.Text(report.Reason + "\n", "text/plain; charset=utf-8", statusCode: report.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
    }

    /// <summary>The bound address, e.g. http://127.0.0.1:9464 (the real port when 0 was asked for); null before start.</summary>
    public Uri? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Address = await KestrelStart.StartAsync(_app, cancellationToken).ConfigureAwait(false);
        LogServing(_logger, Address);
    }

    public Task StopAsync(CancellationToken cancellationToken) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        _exposition.Dispose();
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Serving /metrics and /health on {Address}")]
    private static partial void LogServing(ILogger logger, Uri? address);
}
