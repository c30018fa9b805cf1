using ContinualLearning.Aggregator.Metrics;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Aggregator.Console;

/// <summary>What the console's routes read from and act through: the running service's parts.</summary>
internal sealed record ConsoleSources(
    AggregatorOptions Options,
    ModelRegistry Registry,
    FleetView Fleet,
    DeviceTelemetry Telemetry,
    RegistryView View,
    ConsoleClusters Clusters,
    AggregatorHealth Health,
    AggregatorMetrics Metrics,
    ConsoleEvents Events,
    IOperatorActions Actions,
    TimeProvider Time);

/// <summary>The operator actions the console can ask of the service (<see cref="AggregatorService"/> implements them).</summary>
internal interface IOperatorActions
{
    /// <summary>Makes <paramref name="version"/> of <paramref name="model"/> (the configured model or a live cluster model) the release again (as <c>cl model rollback</c>); returns the versions rolled back.</summary>
    Task<IReadOnlyList<string>> RollbackAsync(string model, string version, string actor, CancellationToken cancellationToken);

    /// <summary>Releases a registered version of <paramref name="model"/> to the whole fleet (of that model); returns the status it had.</summary>
    Task<string> PublishAsync(string model, string version, string actor, CancellationToken cancellationToken);

    /// <summary>Signs <paramref name="command"/> with <paramref name="key"/> for <paramref name="deviceId"/> and sends it; returns its id.</summary>
    Task<string> SendCommandAsync(string deviceId, Fleet.Messages.Command command, System.Security.Cryptography.ECDsa key, CancellationToken cancellationToken);
}
