using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// One verified release being fetched (<see cref="ReleaseAcceptance"/> judged it): its chunks are collected by a resumable
/// <see cref="BundleAssembler"/> (each checked against the signed release, the bundle against its SHA-256) while its
/// chunk topic is subscribed, then the bundle is assembled and extracted into a directory. <see cref="ReleaseInstaller"/>
/// installs what it extracts, <see cref="ClusterHeadFetcher"/> loads it for scoring; each owns its own fetches and
/// serialises the calls on one.
/// </summary>
internal sealed class ReleaseFetch
{
    private readonly BundleAssembler _assembler;
    private readonly IFleetConnection _connection;
    private readonly string _chunkFilter;
    private bool _subscribed;

    private ReleaseFetch(BundleAssembler assembler, IFleetConnection connection, string fleet)
    {
        _assembler = assembler;
        _connection = connection;
        _chunkFilter = FleetTopics.AllChunks(fleet, assembler.Release.ModelName, assembler.Release.Version);
    }

    /// <summary>
    /// A fetch of <paramref name="release"/> collecting its chunks under <paramref name="incomingDirectory"/> (chunks
    /// already there are resumed). Throws <see cref="BundleVerificationException"/> when the release cannot be fetched
    /// (its signature or chunk list does not hold); the caller refuses it with that message.
    /// </summary>
    public static ReleaseFetch Open(Release release, ECDsa fleetKey, string incomingDirectory, IFleetConnection connection, string fleet)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return new ReleaseFetch(new BundleAssembler(release, fleetKey, incomingDirectory), connection, fleet);
    }

    /// <summary>The release fetched.</summary>
    public Release Release => _assembler.Release;

    /// <summary>True once every chunk is on disk.</summary>
    public bool IsComplete => _assembler.IsComplete;

    /// <summary>Chunks found on disk from an earlier, interrupted fetch.</summary>
    public int ResumedCount => _assembler.ResumedCount;

    /// <summary>Subscribes to the release's chunks (the caller does not when <see cref="IsComplete"/> already).</summary>
    public async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        await _connection.SubscribeAsync(_chunkFilter, cancellationToken).ConfigureAwait(false);
        _subscribed = true;
    }

    /// <summary>Takes one chunk message: accepted, a duplicate, or rejected/unreadable with the reason.</summary>
    public ChunkResult Accept(ReadOnlySpan<byte> payload) => _assembler.AcceptMessage(payload);

    /// <summary>
    /// Assembles the bundle and extracts it into <paramref name="target"/> (replacing what is there). False when a chunk
    /// on disk went bad (it was dropped and is fetched again by staying subscribed or by the next delivery of the
    /// release). Throws <see cref="BundleVerificationException"/>, <see cref="BundleException"/>, <see cref="IOException"/>
    /// or <see cref="InvalidDataException"/> when the bundle cannot be extracted.
    /// </summary>
    public bool TryExtract(string target)
    {
        var container = _assembler.TryAssemble();
        if (container is null) return false;
        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        BundlePackager.Extract(container, target);
        return true;
    }

    /// <summary>Stops receiving the release's chunks; those on disk stay for a later resume.</summary>
    public async Task UnsubscribeAsync(CancellationToken cancellationToken)
    {
        if (!_subscribed) return;
        _subscribed = false;
        await _connection.UnsubscribeAsync(_chunkFilter, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the fetch: deletes its chunks and stops receiving them.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        _assembler.Clear();
        await UnsubscribeAsync(cancellationToken).ConfigureAwait(false);
    }
}
