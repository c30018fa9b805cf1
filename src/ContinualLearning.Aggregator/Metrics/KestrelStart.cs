using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ContinualLearning.Aggregator.Metrics;

/// <summary>Starting one of the aggregator's Kestrel endpoints (metrics, console) and learning the address it bound.</summary>
internal static class KestrelStart
{
    /// <summary>Starts <paramref name="app"/>; returns its bound address (the real port when 0 was asked for), or null when it reports none.</summary>
    public static async Task<Uri?> StartAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return bound is null ? null : new Uri(bound);
    }
}
