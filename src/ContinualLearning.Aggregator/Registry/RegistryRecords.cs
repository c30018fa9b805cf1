using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>Lifecycle of a model version in the registry.</summary>
public static class VersionStatus
{
    /// <summary>Built by aggregation, not yet published.</summary>
    public const string Candidate = "candidate";

    /// <summary>Published to the canary cohort; waiting for the canary decision.</summary>
    public const string Canary = "canary";

    /// <summary>Published to the whole fleet (cohort "all").</summary>
    public const string Released = "released";

    /// <summary>Canary accuracy fell short; the previous release was re-published.</summary>
    public const string RolledBack = "rolled-back";

    /// <summary>Refused by the holdout gate; never published.</summary>
    public const string Rejected = "rejected";

    /// <summary>Statuses that count as a published release for staleness.</summary>
    public static readonly string[] Published = [Canary, Released, RolledBack];
}

/// <summary>One row of the versions table.</summary>
public sealed record ModelVersionRecord
{
    public long Seq { get; init; }

    public required string Name { get; init; }

    public required string Version { get; init; }

    public string? Parent { get; init; }

    public DateTimeOffset Created { get; init; }

    public required string Status { get; init; }

    /// <summary>SHA-256 of the bundle container in artifacts/sha256/.</summary>
    public required string ArtifactSha256 { get; init; }

    public IReadOnlyList<string> DeltaIds { get; init; } = [];

    public IReadOnlyList<string> DeviceIds { get; init; } = [];

    public IReadOnlyList<long> SampleCounts { get; init; } = [];

    /// <summary>JSON object: aggregation numbers, holdout accuracy, etc.</summary>
    public string MetricsJson { get; init; } = "{}";
}

/// <summary>An accepted delta waiting for the next aggregation (persisted so a restart loses nothing).</summary>
public sealed record PendingDelta(string DeltaId, string DeviceId, string BaseVersion, long SampleCount, DateTimeOffset Received, byte[] Payload);

/// <summary>A recorded rollout or gate decision with the numbers it was based on.</summary>
public sealed record RolloutDecisionRecord(long Id, string Name, string Version, DecisionKind Decision, DateTimeOffset At, string Reason, string NumbersJson);

/// <summary>A recorded rejection of a delta.</summary>
public sealed record RejectionRecord(DateTimeOffset At, string? DeviceId, string? DeltaId, RejectionReason Reason, string Message);
