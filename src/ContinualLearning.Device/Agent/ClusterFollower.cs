using System.Security.Cryptography;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// Follows the fleet's cluster directory (<see cref="ClusterDirectory"/>, retained on <c>cl/{fleet}/model/{m}/clusters</c>)
/// under concept-aware aggregation (<c>learning:clustering</c>). A directory is applied only when it is of the device's
/// model, verifies against the fleet's release key, and its sequence is above the last one applied (kept in the data
/// directory, so a replayed older directory is ignored after a restart too; the one applied last is applied again after
/// a restart, its assignment being in memory only). Applying it: the device's assignment (absent = cluster 0) becomes
/// the model <see cref="ReleaseInstaller"/> installs, the other live clusters the heads <see cref="ClusterHeadFetcher"/>
/// fetches, and the release topics subscribed follow. An invalid directory is logged with the reason and ignored.
/// </summary>
internal sealed partial class ClusterFollower(DeviceRuntime runtime, ECDsa fleetKey, IFleetConnection connection, ReleaseInstaller installer,
    ClusterHeadFetcher heads, ILogger logger) : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ReleaseSequence _sequence = new(runtime.Options.ClusterSequencePath, runtime.Options.ModelName);
    private readonly HashSet<string> _releaseTopics = new(StringComparer.Ordinal) { installer.ServingModel };
    private long? _applied;

    private string BaseModel => runtime.Options.ModelName;

    /// <summary>The directory applied last in this run; null before one.</summary>
    public ClusterDirectory? Directory { get; private set; }

    /// <summary>The cluster whose model the device installs (and serves once its release is in): its assignment.</summary>
    public int Cluster => ClusterNames.Parse(installer.ServingModel).Cluster;

    /// <summary>The sequence of the last directory applied (survives restarts); 0 before any.</summary>
    public long AppliedSequence => _sequence.Last;

    /// <summary>Why the last directory was ignored; null once one was applied.</summary>
    public string? LastRejection { get; private set; }

    /// <summary>Subscribes to the model's retained directory topic.</summary>
    public Task SubscribeAsync(CancellationToken cancellationToken) =>
        connection.SubscribeAsync(FleetTopics.Clusters(runtime.Options.Fleet, BaseModel), cancellationToken);

    /// <summary>A message on the directory topic: verified and applied when newer than the last one applied.</summary>
    public async Task OnDirectoryAsync(FleetMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Payload.Length == 0) return; // a cleared retained directory
        ClusterDirectory directory;
        try
        {
            directory = FleetJson.ReadClusterDirectory(message.Payload);
        }
        catch (FleetMessageException ex)
        {
            Ignore($"cluster directory on {message.Topic} is unreadable: {ex.Message}");
            return;
        }
        if (directory.ModelName != BaseModel)
        {
            Ignore($"cluster directory on {message.Topic} is of model '{directory.ModelName}', not '{BaseModel}'; ignoring it.");
            return;
        }
        var verified = ClusterDirectorySigner.Verify(directory, fleetKey);
        if (!verified.Ok)
        {
            Ignore(verified.Reason!);
            return;
        }
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var last = _sequence.Last;
            if (directory.Sequence < last)
            {
                Ignore($"cluster directory of {BaseModel} has sequence {directory.Sequence}, but this device already applied sequence {last}: a replayed older directory; ignoring it.");
                return;
            }
            if (directory.Sequence == _applied) return; // the retained directory, redelivered after a reconnect
            await ApplyAsync(directory, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _lock.Dispose();

    // Caller holds the lock.
    private async Task ApplyAsync(ClusterDirectory directory, CancellationToken cancellationToken)
    {
        var assigned = directory.Assignments.GetValueOrDefault(runtime.Options.DeviceId, 0);
        var serving = ClusterNames.ModelName(BaseModel, assigned);
        var scored = directory.Clusters.Where(c => c.ModelName != serving).ToDictionary(c => c.ModelName, c => c.Cluster, StringComparer.Ordinal);
        var previous = installer.ServingModel;

        _sequence.Accept(directory.Sequence);
        _applied = directory.Sequence;
        Directory = directory;
        LastRejection = null;

        // The fetcher lets go of the model about to be served before the installer takes it (one owner per chunk filter).
        await heads.SetModelsAsync(scored, cancellationToken).ConfigureAwait(false);
        await installer.SwitchAsync(serving, cancellationToken).ConfigureAwait(false);

        var wanted = new HashSet<string>(scored.Keys, StringComparer.Ordinal) { serving };
        foreach (var model in _releaseTopics.Except(wanted).ToArray())
        {
            await connection.UnsubscribeAsync(FleetTopics.Release(runtime.Options.Fleet, model), cancellationToken).ConfigureAwait(false);
            _releaseTopics.Remove(model);
        }
        foreach (var model in wanted)
        {
            var topic = FleetTopics.Release(runtime.Options.Fleet, model);
            // A model that changed hands (served ↔ scored) needs its retained release again, for its new handler.
            var changedHands = previous != serving && (model == previous || model == serving);
            if (_releaseTopics.Contains(model) && !changedHands) continue;
            if (_releaseTopics.Contains(model)) await connection.UnsubscribeAsync(topic, cancellationToken).ConfigureAwait(false);
            await connection.SubscribeAsync(topic, cancellationToken).ConfigureAwait(false);
            _releaseTopics.Add(model);
        }
        LogApplied(logger, BaseModel, directory.Sequence, directory.Round, assigned, directory.Clusters.Count);
    }

    private void Ignore(string reason)
    {
        LastRejection = reason;
        LogIgnored(logger, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster directory of {Model} (sequence {Sequence}, round {Round}) applied: this device is in cluster {Cluster} of {Count}.")]
    private static partial void LogApplied(ILogger logger, string model, long sequence, int round, int cluster, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cluster directory ignored: {Reason}")]
    private static partial void LogIgnored(ILogger logger, string reason);
}
