using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.Aggregator.Rollout;

/// <summary>What an operator's rollback or publish decided: the version released, the versions it displaced, the release sequence allocated (null: none).</summary>
internal sealed record OperatorRelease(ModelVersionRecord Target, IReadOnlyList<string> RolledBack, long? Sequence);

/// <summary>
/// The operator's release actions, one implementation for <c>cl model rollback|publish</c> and the console's
/// <c>POST /api/v1/versions/{v}/rollback|publish</c>. Each decides in one transaction under the model lock — the status
/// changes, the decision with who asked, and the release to all allocated in the registry's outbox — so a running
/// aggregator, or the caller with <see cref="SendAsync"/>, puts it on the wire, and a crash in between loses nothing.
/// Refusals are <see cref="InvalidOperationException"/>s whose message says what to do.
/// </summary>
internal static class OperatorReleases
{
    /// <summary>
    /// Makes <paramref name="target"/> (released before) the fleet's release again: newer released or canary versions
    /// become rolled-back, and a release of the target to all is allocated.
    /// </summary>
    public static OperatorRelease Rollback(ModelRegistry registry, ModelVersionRecord target, string actor)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(target);
        if (target.Status is not (VersionStatus.Released or VersionStatus.RolledBack))
            throw new InvalidOperationException($"{target.Name} {target.Version} is '{target.Status}'; only a version that was released can be rolled back to.");
        return registry.WithModelLock(target.Name, () =>
        {
            var newer = registry.ListVersions(target.Name).Where(v => v.Seq > target.Seq && v.Status is VersionStatus.Released or VersionStatus.Canary).ToArray();
            foreach (var v in newer) registry.TryTransition(v.Name, v.Version, v.Status, VersionStatus.RolledBack);
            if (target.Status == VersionStatus.RolledBack) registry.TryTransition(target.Name, target.Version, VersionStatus.RolledBack, VersionStatus.Released);
            var rolledBack = newer.Select(v => v.Version).ToArray();
            registry.Decisions.Record(target.Name, target.Version, DecisionKind.ManualRollback, $"{actor}; rolled back: {string.Join(", ", rolledBack)}", "{}");
            var sequence = registry.Releases.Allocate(target.Name, target.Version, Cohorts.All);
            return new OperatorRelease(target, rolledBack, sequence);
        });
    }

    /// <summary>
    /// Releases <paramref name="target"/> to the whole fleet. The current release (<c>cl model publish</c> registers a
    /// bundle as one) is published again; a candidate, a canary, a version the holdout gate rejected or one a canary rolled back is
    /// moved to released first — when it is newer than the current release (an older one is a rollback) and no other
    /// canary runs. <paramref name="allocate"/> false records the decision without a release (registering a seed).
    /// </summary>
    public static OperatorRelease Publish(ModelRegistry registry, ModelVersionRecord target, string actor, bool allocate = true)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(target);
        return registry.WithModelLock(target.Name, () =>
        {
            var current = registry.GetVersion(target.Name, target.Version) ?? throw new InvalidOperationException($"{target.Name} {target.Version} is not in the registry.");
            if (registry.Latest(target.Name, VersionStatus.Released) is { } release && release.Seq > current.Seq)
                throw new InvalidOperationException($"{target.Name} {target.Version} is older than the current release {release.Version}; roll back to it instead of publishing it.");
            if (current.Status != VersionStatus.Released)
            {
                if (registry.Latest(target.Name, VersionStatus.Canary) is { } canary && canary.Version != current.Version)
                    throw new InvalidOperationException($"The canary of {target.Name} {canary.Version} is running; wait for its verdict or roll back before publishing {target.Version}.");
                if (!registry.TryTransition(current.Name, current.Version, current.Status, VersionStatus.Released))
                    throw new InvalidOperationException($"{target.Name} {target.Version} changed status meanwhile; look again and retry.");
                if (current.Status == VersionStatus.Canary) registry.Canaries.Close(current.Name, current.Version, registry.Time.GetUtcNow());
            }
            var reason = current.Status == VersionStatus.Released ? actor : $"{actor}; was {current.Status}";
            registry.Decisions.Record(target.Name, target.Version, DecisionKind.Published, reason, "{}");
            long? sequence = allocate ? registry.Releases.Allocate(target.Name, target.Version, Cohorts.All) : null;
            return new OperatorRelease(current, [], sequence);
        });
    }

    /// <summary>Puts an allocated release on the wire through <paramref name="channel"/> and marks it sent (else a running aggregator's outbox sends it once more).</summary>
    public static async Task<Release> SendAsync(ModelRegistry registry, IReleaseChannel channel, ModelVersionRecord record, long sequence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(record);
        var release = await channel.PublishAsync(registry.Artifacts.Read(record.ArtifactSha256), record.Name, record.Version, record.Parent, Cohorts.All, sequence, cancellationToken)
            .ConfigureAwait(false);
        registry.Releases.MarkSent(record.Name, sequence);
        return release;
    }
}
