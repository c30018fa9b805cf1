using System.Security.Cryptography;
using System.Text;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;

namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// The signed cluster directory of a base model (<see cref="ClusterDirectory"/>, retained on
/// <c>cl/{fleet}/model/{name}/clusters</c>): the live clusters with the version each one's devices should run (its
/// current release) and every device placed outside cluster 0. A new directory, with the next sequence, is made only
/// when that content changed, so devices see a new sequence exactly when they may have something to do.
/// </summary>
internal static class ClusterDirectories
{
    /// <summary>The directory as it stands, signed with the next sequence, or null when it says what the stored one says.</summary>
    public static ClusterDirectory? Next(ModelRegistry registry, string baseModel, ConceptClustering clustering, int round, ClusteringRecord? stored, DateTimeOffset now, ECDsa key)
    {
        if (Content(registry, baseModel, clustering) is not { } content || !Differs(content, stored)) return null;
        var directory = new ClusterDirectory
        {
            ModelName = baseModel,
            Sequence = (stored?.DirectorySequence ?? 0) + 1,
            Round = round,
            Clusters = content.Clusters,
            Assignments = content.Assignments,
            CreatedAt = now,
        };
        return ClusterDirectorySigner.Sign(directory, key);
    }

    /// <summary>True when <see cref="Next"/> would make a directory: its content differs from the stored one's. Reads only.</summary>
    public static bool Changed(ModelRegistry registry, string baseModel, ConceptClustering clustering, ClusteringRecord? stored) =>
        Content(registry, baseModel, clustering) is { } content && Differs(content, stored);

    /// <summary>The live clusters with their current releases and the assignments to them; null while cluster 0 is not listable.</summary>
    private static (List<ClusterEntry> Clusters, SortedDictionary<string, int> Assignments)? Content(ModelRegistry registry, string baseModel, ConceptClustering clustering)
    {
        var clusters = new List<ClusterEntry>();
        foreach (var c in registry.Clusters.Live(baseModel))
        {
            // A cluster whose model has no release yet (another instance is creating it) is listed once it has one.
            if (registry.Latest(c.ModelName, VersionStatus.Released) is { } release)
                clusters.Add(new ClusterEntry { Cluster = c.Cluster, ModelName = c.ModelName, Version = release.Version });
        }
        if (clusters.Count == 0 || clusters[0].Cluster != 0) return null;
        var listed = clusters.Select(c => c.Cluster).ToHashSet();
        var assignments = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (device, cluster) in clustering.Assignments)
            if (cluster != 0 && listed.Contains(cluster)) assignments[device] = cluster;
        return (clusters, assignments);
    }

    private static bool Differs((List<ClusterEntry> Clusters, SortedDictionary<string, int> Assignments) content, ClusteringRecord? stored)
    {
        var previous = stored?.DirectoryJson is { } json ? FleetJson.ReadClusterDirectory(Encoding.UTF8.GetBytes(json)) : null;
        return previous is null || !previous.Clusters.SequenceEqual(content.Clusters) || !SameAssignments(previous.Assignments, content.Assignments);
    }

    private static bool SameAssignments(IReadOnlyDictionary<string, int> a, SortedDictionary<string, int> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var c) && c == p.Value);
}
