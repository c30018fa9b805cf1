using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator;

/// <summary>Runs an <see cref="AggregatorService"/> under the .NET Generic Host (<c>cl aggregator run</c>).</summary>
public sealed class AggregatorHostedService(AggregatorOptions options, ILogger<AggregatorService> logger) : IHostedService, IAsyncDisposable
{
    private readonly AggregatorService _service = new(options, logger);

    public AggregatorService Service => _service;

    public Task StartAsync(CancellationToken cancellationToken) => _service.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _service.StopAsync();

    public ValueTask DisposeAsync() => _service.DisposeAsync();
}
