using ContinualLearning.Aggregator.Metrics;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>What one retention sweep deleted.</summary>
/// <param name="Rejections">Rows of the rejections table.</param>
/// <param name="Artifacts">Bundle containers in artifacts/sha256/.</param>
/// <param name="Caches">Extracted bundles in cache/.</param>
public sealed record RetentionResult(int Rejections, int Artifacts, int Caches);

/// <summary>
/// Keeps the registry from only growing: the rejections table is cut to a row count and an age, and the artifacts and
/// extracted caches of versions that are neither the current release, a canary, a candidate, nor among the newest
/// <c>keepVersions</c> of their model are deleted (their rows stay, as history; they can no longer be rolled back to).
/// The server optimiser states of those versions go with their artifacts. A file no version names is deleted only once it is older than <c>orphanGrace</c>: an aggregation writes its artifact
/// before the transaction that names it, possibly in another instance.
/// </summary>
internal static class RegistryRetention
{
    public static RetentionResult Sweep(ModelRegistry registry, RetentionOptions options, TimeSpan orphanGrace)
    {
        var now = registry.Time.GetUtcNow();
        var rejections = registry.Rejections.Prune(options.RejectionsMaxRows, now - options.RejectionsMaxAge);
        var versions = registry.ListVersions();
        var kept = Kept(versions, options.KeepVersions);
        var known = versions.Select(v => v.ArtifactSha256).ToHashSet(StringComparer.Ordinal);
        var orphansBefore = (now - orphanGrace).UtcDateTime;
        bool Expired(string sha, DateTime written) => !kept.Contains(sha) && (known.Contains(sha) || written < orphansBefore);

        // A version whose bundle goes can no longer be built on: its server optimiser state goes with it.
        foreach (var model in versions.Where(v => !kept.Contains(v.ArtifactSha256)).GroupBy(v => v.Name, StringComparer.Ordinal))
            registry.OptimizerStates.Forget(model.Key, model.Select(v => v.Version));
        var artifacts = 0;
        foreach (var (sha, written) in registry.Artifacts.List())
            if (Expired(sha, written) && registry.Artifacts.Delete(sha)) artifacts++;
        var caches = 0;
        var cacheRoot = Path.Combine(registry.Directory, RegistryModels.CacheDirectoryName);
        if (Directory.Exists(cacheRoot))
        {
            foreach (var dir in Directory.EnumerateDirectories(cacheRoot))
            {
                var name = Path.GetFileName(dir);
                if (name.EndsWith(".tmp", StringComparison.Ordinal) || !Expired(name, Directory.GetLastWriteTimeUtc(dir))) continue;
                Directory.Delete(dir, recursive: true);
                caches++;
            }
        }
        return new RetentionResult(rejections, artifacts, caches);
    }

    /// <summary>Artifacts to keep: per model, the current release, canaries, candidates and the newest <paramref name="keep"/> versions.</summary>
    private static HashSet<string> Kept(IReadOnlyList<ModelVersionRecord> versions, int keep)
    {
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var model in versions.GroupBy(v => v.Name, StringComparer.Ordinal))
        {
            var bySeq = model.OrderByDescending(v => v.Seq).ToList();
            foreach (var v in bySeq.Take(keep)) kept.Add(v.ArtifactSha256);
            foreach (var v in bySeq.Where(v => v.Status is VersionStatus.Canary or VersionStatus.Candidate)) kept.Add(v.ArtifactSha256);
            if (bySeq.FirstOrDefault(v => v.Status == VersionStatus.Released) is { } current) kept.Add(current.ArtifactSha256);
        }
        return kept;
    }
}

/// <summary>
/// Runs <see cref="RegistryRetention.Sweep"/> every <see cref="RetentionOptions.Interval"/> from the service loop, counts
/// what it deleted, and writes the journal's pending "suppressed" line so a flood that is still going shows up in the
/// log at least once an interval.
/// </summary>
internal sealed partial class RetentionSchedule(ModelRegistry registry, RetentionOptions options, Journal journal, AggregatorMetrics metrics, ILogger logger)
{
    private long? _last;

    public void RunIfDue()
    {
        var now = registry.Time.GetTimestamp();
        journal.FlushSuppressed();
        if (_last is { } last && registry.Time.GetElapsedTime(last, now) < options.Interval) return;
        _last = now;
        var deleted = RegistryRetention.Sweep(registry, options, orphanGrace: TempFiles.Grace);
        metrics.Retained(deleted);
        if (deleted.Rejections + deleted.Artifacts + deleted.Caches > 0)
            LogSwept(logger, deleted.Rejections, deleted.Artifacts, deleted.Caches, options.KeepVersions);
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Information, Message = "Retention: deleted {Rejections} rejection rows, {Artifacts} artifacts and {Caches} extracted caches (keeping the current release, canaries, candidates and the newest {Keep} versions)")]
    private static partial void LogSwept(ILogger logger, int rejections, int artifacts, int caches, int keep);
}
