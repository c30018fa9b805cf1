namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// What one device measured this round: the loss of every cluster model it holds on its most recent labelled samples,
/// and of its own locally trained model when it has one (trained on older samples than those scored).
/// </summary>
/// <param name="DeviceId">The device.</param>
/// <param name="Cluster">The cluster whose model it served and trained from this round (its delta is relative to that model).</param>
/// <param name="ClusterLosses">Mean loss per cluster id; a cluster missing here was not evaluated and cannot be chosen.</param>
/// <param name="LocalLoss">Mean loss of the device's own model on the same samples, or null.</param>
/// <param name="Samples">How many labelled samples the losses were measured on.</param>
/// <param name="StandardErrors">
/// Per cluster id, the standard error of the mean per-sample difference (that cluster's loss − the local model's loss)
/// on the same samples, or null: the local-advantage test then judges that cluster without one.
/// </param>
public sealed record LossReport(string DeviceId, int Cluster, IReadOnlyDictionary<int, double> ClusterLosses, double? LocalLoss, int Samples,
    IReadOnlyDictionary<int, double>? StandardErrors = null);

/// <summary>Why a device is where it is after a round.</summary>
public enum AssignmentKind
{
    /// <summary>In the cluster it trained from: its delta is aggregated into that cluster.</summary>
    Stayed,

    /// <summary>Moved to another existing cluster that fits it better: its delta (relative to the old model) is not aggregated.</summary>
    Moved,

    /// <summary>Fitted none: a new cluster starts from its trained model (parent model + its delta).</summary>
    Created,

    /// <summary>Its cluster was merged into another one.</summary>
    Merged,
}

/// <summary>A device's cluster after the round.</summary>
public sealed record ClusterAssignment(string DeviceId, int From, int To, AssignmentKind Kind);

/// <summary>A new cluster whose model is <paramref name="Parent"/>'s model plus <paramref name="Creator"/>'s delta.</summary>
public sealed record ClusterCreation(int Cluster, int Parent, string Creator);

/// <summary><paramref name="Absorbed"/> was merged into <paramref name="Survivor"/>, whose model is kept.</summary>
public sealed record ClusterMerge(int Survivor, int Absorbed, double Distance);

/// <summary>Everything <see cref="ConceptClustering.Decide(int, IReadOnlyList{LossReport}, IReadOnlySet{int})"/> changed in one round, in the order to apply it: assignments and creations, then merges, then retirements.</summary>
public sealed record ClusteringDecision(
    IReadOnlyList<ClusterAssignment> Assignments,
    IReadOnlyList<ClusterCreation> Created,
    IReadOnlyList<ClusterMerge> Merged,
    IReadOnlyList<int> Retired);

/// <summary>Everything <see cref="ConceptClustering"/> remembers between rounds (<see cref="ConceptClustering.Export"/>).</summary>
/// <param name="NextId">The id the next created cluster gets (ids are never reused).</param>
/// <param name="Clusters">The live clusters.</param>
/// <param name="Devices">Every device that ever reported, ordinal order.</param>
public sealed record ClusteringState(int NextId, IReadOnlyList<ClusterStateEntry> Clusters, IReadOnlyList<DeviceStateEntry> Devices)
{
    /// <summary>
    /// Device → cluster for every device assigned outside cluster 0 to a cluster <paramref name="isLive"/> accepts, as the
    /// aggregator routes and the console shows them: a device whose cluster is no longer live is back in cluster 0.
    /// </summary>
    public IReadOnlyDictionary<string, int> Routed(Func<int, bool> isLive)
    {
        ArgumentNullException.ThrowIfNull(isLive);
        var assignments = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var d in Devices)
            if (d.Cluster != 0 && isLive(d.Cluster)) assignments[d.DeviceId] = d.Cluster;
        return assignments;
    }
}

/// <summary>A live cluster: the round it was created in and the last round it had a device.</summary>
public sealed record ClusterStateEntry(int Id, int Created, int LastUsed);

/// <summary>A device: its cluster, its reference loss (null: none yet) and the round its grace period ends.</summary>
public sealed record DeviceStateEntry(string DeviceId, int Cluster, double? Reference, int GraceUntil);
