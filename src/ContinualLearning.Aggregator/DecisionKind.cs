using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContinualLearning.Aggregator;

/// <summary>
/// What was decided about a version. Stored in the registry's <c>decisions</c> table and shown by <c>cl model show</c>
/// as kebab-case text (<see cref="WireText"/>): <c>holdout-pass</c>, <c>canary-started</c>, <c>rolled-back</c>, ….
/// </summary>
[JsonConverter(typeof(KebabEnumConverter<DecisionKind>))]
public enum DecisionKind
{
    /// <summary>The holdout gate let the candidate through.</summary>
    HoldoutPass,

    /// <summary>The holdout gate refused the candidate; it is never published.</summary>
    HoldoutFail,

    /// <summary>Released to all without a canary stage (canary disabled, or no online canary device).</summary>
    Released,

    /// <summary>Published to the canary cohort; the decision numbers hold the cohort's device ids.</summary>
    CanaryStarted,

    /// <summary>The canary did well enough; released to all.</summary>
    Promoted,

    /// <summary>The canary did worse; the previous release went out again.</summary>
    RolledBack,

    /// <summary>Registered (and possibly published) by <c>cl model publish</c>.</summary>
    Published,

    /// <summary>Made the release again by <c>cl model rollback</c>.</summary>
    ManualRollback,

    /// <summary>
    /// The round met classes new to the fleet: the reason names the admitted ones (appended to the head) and the ones
    /// left out, each with its number of devices; the numbers map "admitted:{label}" / "not-admitted:{label}" to it.
    /// </summary>
    NewClasses,

    /// <summary>Concept-aware aggregation created this cluster model: its first version is its parent cluster's release plus its creator's delta, released to all.</summary>
    ClusterCreated,

    /// <summary>Concept-aware aggregation retired this cluster model (merged into another, or evicted at the cluster cap); it left the cluster directory.</summary>
    ClusterRetired,
}

/// <summary>JSON form of the aggregator's enums: the same kebab-case text the registry stores.</summary>
internal sealed class KebabEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false)
    where T : struct, Enum;
