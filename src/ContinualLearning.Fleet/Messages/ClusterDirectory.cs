using System.Text.Json.Serialization;

namespace ContinualLearning.Fleet.Messages;

/// <summary>
/// Retained on <c>cl/{fleet}/model/{name}/clusters</c> when concept-aware aggregation is on for model <c>name</c>: the
/// live clusters of the model and where each device belongs. Each cluster is a registry model of its own
/// (<see cref="ContinualLearning.Deltas.ClusterNames"/>: cluster 0 is the model itself, cluster k is <c>{name}.c{k}</c>)
/// with its own signed releases, canary and rollback on its own release topic; this message only says which clusters
/// exist and which one each device serves and trains from. Signed with the release key
/// (<see cref="Signing.ClusterDirectorySigner"/>), so a forged directory cannot move a device onto another model.
/// </summary>
public sealed record ClusterDirectory : IFleetMessage
{
    /// <summary>Schema version this build writes and the newest it reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of this message ("v").</summary>
    [JsonPropertyName("v")]
    public int V { get; init; } = CurrentVersion;

    /// <summary>The base model name (cluster 0's registry model).</summary>
    public required string ModelName { get; init; }

    /// <summary>
    /// Strictly increasing per model over every directory published, signed with the rest: a device applies a directory
    /// whose sequence is above the last one it applied and ignores one at or below it (a replayed, older directory).
    /// </summary>
    public required long Sequence { get; init; }

    /// <summary>The aggregator's clustering round that produced this directory.</summary>
    public required int Round { get; init; }

    /// <summary>The live clusters, ascending by id; cluster 0 is always present.</summary>
    public required IReadOnlyList<ClusterEntry> Clusters { get; init; }

    /// <summary>
    /// Device id → cluster id for every device the aggregator has placed outside cluster 0; a device not listed belongs
    /// to cluster 0. (About 30 bytes per listed device; see docs/federated.md for the size at fleet scale.)
    /// </summary>
    public required IReadOnlyDictionary<string, int> Assignments { get; init; }

    /// <summary>When the aggregator published it.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Identifies the signing key (<see cref="Signing.ReleaseKeys.KeyId"/>).</summary>
    public string? KeyId { get; init; }

    /// <summary>Base64 ECDSA P-256 / SHA-256 signature (IEEE P1363, r‖s) over the canonical bytes; null while unsigned.</summary>
    public string? Signature { get; init; }
}

/// <summary>One live cluster of a model.</summary>
public sealed record ClusterEntry
{
    /// <summary>Cluster id, 0 for the base model.</summary>
    public required int Cluster { get; init; }

    /// <summary>Its registry model name (release topic <c>cl/{fleet}/model/{modelName}/release</c>).</summary>
    public required string ModelName { get; init; }

    /// <summary>The version its devices should run (its current release); devices score this version's head.</summary>
    public required string Version { get; init; }
}
