using System.Security.Cryptography;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>What the rollout needs from the wire: publish a release to a cohort, tell a device its cohort.</summary>
internal interface IReleaseChannel
{
    /// <summary>Publishes a release with release sequence <paramref name="sequence"/> (from <see cref="Registry.ReleaseLog.Allocate"/>).</summary>
    Task<Release> PublishAsync(byte[] container, string modelName, string version, string? parentVersion, string cohort, long sequence, CancellationToken cancellationToken = default);

    Task SetCohortAsync(string deviceId, string cohort, CancellationToken cancellationToken = default);
}

/// <summary>
/// Puts a version on the wire: signs a <see cref="Release"/> (with its release sequence) for the bundle container with the fleet key, publishes
/// every chunk retained at QoS 1 on <c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>, then the release retained on
/// <c>cl/{fleet}/model/{name}/release</c> (chunks first, so a device that sees the release can fetch all of them).
/// </summary>
/// <param name="client">Connected (or connecting) fleet client.</param>
/// <param name="fleet">Fleet id of the topics.</param>
/// <param name="privateKey">Fleet signing key.</param>
/// <param name="chunkSize">Bytes per bundle chunk.</param>
/// <param name="time">Clock for command issue and expiry times; <see cref="TimeProvider.System"/> when null.</param>
/// <param name="operatorKey">Key that signs the cohort commands; <paramref name="privateKey"/> when null (devices that follow the aggregator's canary choice list its public key in commands:operatorKeys).</param>
public sealed class ReleasePublisher(FleetMqttClient client, string fleet, ECDsa privateKey, int chunkSize = BundlePackager.DefaultChunkSize, TimeProvider? time = null, ECDsa? operatorKey = null)
    : IReleaseChannel
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<Release> PublishAsync(byte[] container, string modelName, string version, string? parentVersion, string cohort, long sequence, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequence);
        var release = ReleaseSigner.Sign(BundlePackager.CreateRelease(container, modelName, version, cohort, chunkSize, parentVersion) with { Sequence = sequence }, privateKey);
        foreach (var chunk in BundlePackager.Split(container, modelName, version, chunkSize))
            await client.PublishAsync(FleetTopics.Chunk(fleet, modelName, version, chunk.Index), chunk.Encode(), retain: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await client.PublishAsync(FleetTopics.Release(fleet, modelName), FleetJson.Serialize(release), retain: true, contentType: "application/json", cancellationToken: cancellationToken).ConfigureAwait(false);
        return release;
    }

    /// <summary>
    /// Tells a device its cohort with a signed <c>set-config cohort=…</c> command (QoS 1; queued by the broker while the
    /// device is offline, valid for the default command lifetime). Fire and forget: no reply is asked for.
    /// </summary>
    public Task SetCohortAsync(string deviceId, string cohort, CancellationToken cancellationToken = default)
    {
        var command = CommandSigner.Sign(
            new Command { CommandId = Guid.NewGuid().ToString("N"), Kind = CommandKind.SetConfig, Args = new Dictionary<string, string> { ["cohort"] = cohort } },
            operatorKey ?? privateKey, fleet, deviceId, _time.GetUtcNow(), CommandLimits.Default.MaxLifetime);
        return client.PublishAsync(FleetTopics.Command(fleet, deviceId), FleetJson.Serialize(command), contentType: "application/json", cancellationToken: cancellationToken);
    }
}
