namespace ContinualLearning.Aggregator.Clustering;

/// <summary>
/// <c>aggregation:clustering:*</c>: concept-aware aggregation in the product (docs/federated.md, "Concept-aware
/// aggregation"). Off by default: one model, exactly as without clustering. On, the configured model is cluster 0 and
/// every further cluster k is the registry model <c>{modelName}.c{k}</c> with its own versions, releases and canary.
/// </summary>
public sealed record FleetClusteringOptions
{
    /// <summary>Keep several models per model name (one per cluster) and assign each device to one.</summary>
    public bool Enabled { get; init; }

    /// <summary>The thresholds of <see cref="ConceptClustering"/>.</summary>
    public ClusteringOptions Thresholds { get; init; } = new();

    /// <summary>
    /// The thresholds as the product runs them: cluster 0 is the configured model itself, so it is never retired or
    /// merged away (a merge with it keeps it, an idle cluster other than it makes room).
    /// </summary>
    internal ClusteringOptions ProductThresholds => Thresholds with { KeepInitialCluster = true };
}
