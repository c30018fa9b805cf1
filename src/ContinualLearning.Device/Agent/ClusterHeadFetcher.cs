using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>A live cluster's head the device scores (not serves): the release's bundle, held in memory.</summary>
/// <param name="Cluster">Cluster id.</param>
/// <param name="Bundle">The verified release bundle (manifest and head weights; a few KB for the usual heads).</param>
internal sealed record ClusterHead(int Cluster, ModelBundle Bundle);

/// <summary>
/// Fetches the releases of the live cluster models the device does not serve, so it can score their heads
/// (<see cref="ClusterScorer"/>). Every check of the install path applies: the model must be one of the live clusters
/// (else the release is refused), the cohort, the fleet key's signature before any chunk, the per-model release
/// sequence (<see cref="ReleaseSequence"/>, shared with <see cref="ReleaseInstaller"/>: a replayed older release is refused),
/// per-chunk and bundle SHA-256 (<see cref="ReleaseFetch"/>, as the installer fetches). Memory is bounded by the directory: one head per live cluster, dropped when retired;
/// nothing is kept on disk once a head is loaded.
/// </summary>
internal sealed partial class ClusterHeadFetcher(DeviceRuntime runtime, ECDsa fleetKey, RuntimeSettings settings, IFleetConnection connection,
    ReleaseSequence sequences, ILogger logger) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<string, int> _models = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ReleaseFetch> _fetching = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ClusterHead> _heads = new(StringComparer.Ordinal);

    private string Root => Path.Combine(runtime.Options.DataDirectory, "cluster-heads");

    /// <summary>The heads held now, by cluster id.</summary>
    public IReadOnlyDictionary<int, ModelBundle> Heads
    {
        get
        {
            lock (_heads) return _heads.Values.ToDictionary(h => h.Cluster, h => h.Bundle);
        }
    }

    /// <summary>
    /// The cluster models to score (model name → cluster id): heads and downloads of any other model are dropped. The
    /// caller subscribes their release topics.
    /// </summary>
    public async Task SetModelsAsync(IReadOnlyDictionary<string, int> models, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _models.Clear();
            foreach (var (model, cluster) in models) _models[model] = cluster;
            foreach (var model in _fetching.Keys.Where(m => !_models.ContainsKey(m)).ToArray()) await DropFetchAsync(model, cancellationToken).ConfigureAwait(false);
            lock (_heads)
            {
                foreach (var model in _heads.Keys.Where(m => !_models.ContainsKey(m)).ToArray()) _heads.Remove(model);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>A message on a scored model's release topic: verified, then its chunks are fetched.</summary>
    public async Task OnReleaseAsync(FleetMessage message, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Payload.Length == 0) return; // a cleared retained release
        var model = FleetTopics.TryParse(message.Topic)?.ModelName ?? "";
        await _lock.WaitAsync(stop).ConfigureAwait(false);
        try
        {
            if (!_models.ContainsKey(model))
            {
                Refuse($"release on {message.Topic}: model '{model}' is neither this device's model nor one of its live cluster models; ignoring it.");
                return;
            }
            var decision = new ReleaseAcceptance(model, fleetKey).Judge(message.Topic, message.Payload, settings.Cohort, sequences.LastOf(model));
            var release = decision.Release;
            switch (decision.Verdict)
            {
                case ReleaseVerdict.Refuse:
                    Refuse(decision.Reason!);
                    return;
                case ReleaseVerdict.Fetch:
                    break;
                // Accepted before (e.g. before a restart: heads are held in memory only) but not held now.
                case ReleaseVerdict.AlreadyAccepted when !Holds(release!):
                    break;
                default:
                    return;
            }
            if (_fetching.TryGetValue(model, out var current))
            {
                if ((current.Release.Sequence ?? 0) >= (release!.Sequence ?? 0)) return;
                await DropFetchAsync(model, stop).ConfigureAwait(false);
            }
            ReleaseFetch fetch;
            try
            {
                fetch = ReleaseFetch.Open(release!, fleetKey, Path.Combine(Root, ReleaseDirectoryRetention.IncomingDirectoryName, $"{release!.ModelName}-{release.Version}"),
                    connection, runtime.Options.Fleet);
            }
            catch (BundleVerificationException ex)
            {
                Refuse(ex.Message);
                return;
            }
            _fetching[model] = fetch;
            LogFetching(logger, release.ModelName, release.Version, release.ChunkCount);
            if (fetch.IsComplete) await LoadAsync(fetch, stop).ConfigureAwait(false);
            else await fetch.SubscribeAsync(stop).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>A chunk of a scored model's release; the head is loaded once the last one arrived.</summary>
    public async Task OnChunkAsync(FleetMessage message, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(message);
        var model = FleetTopics.TryParse(message.Topic)?.ModelName;
        if (model is null) return;
        await _lock.WaitAsync(stop).ConfigureAwait(false);
        try
        {
            if (!_fetching.TryGetValue(model, out var fetch) || fetch.IsComplete) return;
            var result = fetch.Accept(message.Payload);
            if (result.Status == ChunkStatus.Rejected)
            {
                // The genuine chunk may still come (each is checked against the signed release): keep fetching.
                Refuse($"release {fetch.Release.ModelName} v{fetch.Release.Version}: {result.Reason}");
                return;
            }
            if (result.Status == ChunkStatus.Accepted && fetch.IsComplete) await LoadAsync(fetch, stop).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _lock.Dispose();

    private bool Holds(Release release)
    {
        lock (_heads) return _heads.TryGetValue(release.ModelName, out var head) && head.Bundle.Manifest.Version == release.Version;
    }

    // Caller holds the lock. The fetch ends here whatever the outcome: a head is held in memory, nothing stays on disk.
    private async Task LoadAsync(ReleaseFetch fetch, CancellationToken stop)
    {
        var release = fetch.Release;
        _fetching.Remove(release.ModelName);
        var target = Path.Combine(Root, $"{release.ModelName}-{release.Version}");
        try
        {
            if (!fetch.TryExtract(target)) return; // a chunk on disk went bad; the next delivery of the release fetches again
            var bundle = ModelBundle.Load(target);
            if (bundle.Manifest.Name != release.ModelName)
                throw new InvalidDataException($"the bundle is model '{bundle.Manifest.Name}', but its release is of '{release.ModelName}'.");
            lock (_heads) _heads[release.ModelName] = new ClusterHead(_models[release.ModelName], bundle);
            if (release.Sequence is { } sequence) sequences.Accept(release.ModelName, sequence);
            LogLoaded(logger, release.ModelName, release.Version);
        }
        catch (Exception ex) when (ex is BundleVerificationException or InvalidDataException or IOException or BundleException or ArgumentException)
        {
            Refuse($"release {release.ModelName} v{release.Version} could not be loaded for scoring: {ex.Message}");
        }
        finally
        {
            ReleaseDirectoryRetention.TryDelete(target, logger);
            await fetch.CloseAsync(stop).ConfigureAwait(false);
        }
    }

    // Caller holds the lock.
    private async Task DropFetchAsync(string model, CancellationToken cancellationToken)
    {
        if (_fetching.Remove(model, out var fetch)) await fetch.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Refuse(string reason)
    {
        runtime.Metrics.CountReleaseRejected();
        LogRefused(logger, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster release {Model} v{Version} verified; fetching {Count} chunks to score its head.")]
    private static partial void LogFetching(ILogger logger, string model, string version, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster head {Model} v{Version} loaded for scoring.")]
    private static partial void LogLoaded(ILogger logger, string model, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster release refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}
