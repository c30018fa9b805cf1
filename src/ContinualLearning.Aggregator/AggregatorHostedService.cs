using ContinualLearning.Aggregator.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>
/// Runs an <see cref="AggregatorService"/> under the .NET Generic Host (<c>cl aggregator run</c>), and its
/// <c>/metrics</c> and <c>/health</c> endpoint when <see cref="MetricsOptions.Listen"/> is set: started before the
/// service (so a probe is answered while it connects), stopped after it.
/// </summary>
public sealed class AggregatorHostedService : IHostedService, IAsyncDisposable
{
    private readonly AggregatorService _service;
    private readonly AggregatorHealth _health;
    private readonly MetricsEndpoint? _endpoint;

    public AggregatorHostedService(AggregatorOptions options, ILogger<AggregatorService> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _service = new AggregatorService(options, logger);
        _health = new AggregatorHealth(_service.Metrics, AggregatorHealth.WindowFor(options.Tick));
        if (options.Metrics.Listen is { } listen) _endpoint = new MetricsEndpoint(_service.Metrics, _health, listen, logger);
    }

    public AggregatorService Service => _service;

    /// <summary>Where <c>/metrics</c> and <c>/health</c> are served (e.g. http://127.0.0.1:9464/), or null when metrics:listen is unset or before start.</summary>
    public Uri? MetricsAddress => _endpoint?.Address;

    /// <summary>Where the fleet console is served, or null when console:listen is unset or before start.</summary>
    public Uri? ConsoleAddress => _service.ConsoleAddress;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_endpoint is not null) await _endpoint.StartAsync(cancellationToken).ConfigureAwait(false);
        await _service.StartAsync(cancellationToken).ConfigureAwait(false);
        _health.Started();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _service.StopAsync().ConfigureAwait(false);
        if (_endpoint is not null) await _endpoint.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_endpoint is not null) await _endpoint.DisposeAsync().ConfigureAwait(false);
        await _service.DisposeAsync().ConfigureAwait(false);
    }
}
