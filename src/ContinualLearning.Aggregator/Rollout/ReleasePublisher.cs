using System.Security.Cryptography;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>What the rollout needs from the wire: publish a release to a cohort, tell a device its cohort.</summary>
internal interface IReleaseChannel
{
    Task<Release> PublishAsync(byte[] container, string modelName, string version, string? parentVersion, string cohort, CancellationToken cancellationToken = default);

    Task SetCohortAsync(string deviceId, string cohort, string requesterId, CancellationToken cancellationToken = default);
}

/// <summary>
/// Puts a version on the wire: signs a <see cref="Release"/> for the bundle container with the fleet key, publishes
/// every chunk retained at QoS 1 on <c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>, then the release retained on
/// <c>cl/{fleet}/model/{name}/release</c> (chunks first, so a device that sees the release can fetch all of them).
/// </summary>
/// <param name="client">Connected (or connecting) fleet client.</param>
/// <param name="fleet">Fleet id of the topics.</param>
/// <param name="privateKey">Fleet signing key.</param>
/// <param name="chunkSize">Bytes per bundle chunk.</param>
/// <param name="time">Clock for command issue and expiry times; <see cref="TimeProvider.System"/> when null.</param>
public sealed class ReleasePublisher(FleetMqttClient client, string fleet, ECDsa privateKey, int chunkSize = BundlePackager.DefaultChunkSize, TimeProvider? time = null)
    : IReleaseChannel
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<Release> PublishAsync(byte[] container, string modelName, string version, string? parentVersion, string cohort, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        var release = ReleaseSigner.Sign(BundlePackager.CreateRelease(container, modelName, version, cohort, chunkSize, parentVersion), privateKey);
        foreach (var chunk in BundlePackager.Split(container, modelName, version, chunkSize))
            await client.PublishAsync(FleetTopics.Chunk(fleet, modelName, version, chunk.Index), chunk.Encode(), retain: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await client.PublishAsync(FleetTopics.Release(fleet, modelName), FleetJson.Serialize(release), retain: true, contentType: "application/json", cancellationToken: cancellationToken).ConfigureAwait(false);
        return release;
    }

    /// <summary>
    /// Tells a device its cohort with a <c>set-config cohort=…</c> command (QoS 1; queued by the broker while the device
    /// is offline). Fire and forget: the reply, if any, arrives on the aggregator's reply topic and is only logged.
    /// </summary>
    public Task SetCohortAsync(string deviceId, string cohort, string requesterId, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        var command = new Command
        {
            CommandId = Guid.NewGuid().ToString("N"),
            Kind = CommandKind.SetConfig,
            Args = new Dictionary<string, string> { ["cohort"] = cohort },
            IssuedAt = now,
            ExpiresAt = now.AddHours(1),
        };
        return client.PublishAsync(FleetTopics.Command(fleet, deviceId), FleetJson.Serialize(command),
            responseTopic: FleetTopics.CommandReplies(fleet, requesterId), correlationData: Guid.NewGuid().ToByteArray(), contentType: "application/json", cancellationToken: cancellationToken);
    }
}
