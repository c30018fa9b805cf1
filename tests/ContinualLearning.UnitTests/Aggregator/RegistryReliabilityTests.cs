using System.Text;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;
using ContinualLearning.IO;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// Issue 11, attacks 5, 8 and 11 at the registry: a full disk is reported as a full disk, the stores are bounded
/// (rejections by rows and age, artifacts and caches of old versions), and a crash leaves no temp files behind for good.
/// </summary>
public sealed class RegistryReliabilityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-registry-reliability", Guid.NewGuid().ToString("N"));

    public RegistryReliabilityTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Attack_disk_full_inside_a_transaction_surfaces_as_disk_full_not_cannot_rollback()
    {
        using var db = RegistryDatabase.Open(Path.Combine(_dir, "registry.db"));
        db.Execute("CREATE TABLE t(v BLOB NOT NULL)");
        // A real SQLITE_FULL: the connection may not grow the file past its current pages.
        db.Execute("PRAGMA max_page_count = 1");
        var full = Assert.Throws<SqliteException>(() => db.InTransaction(() => db.Execute("INSERT INTO t(v) VALUES($v)", ("$v", new byte[64 * 1024]))));
        Assert.Equal(13, full.SqliteErrorCode); // SQLITE_FULL
        Assert.Contains("database or disk is full", full.Message, StringComparison.Ordinal);

        // When SQLite already rolled the transaction back itself (it may on SQLITE_FULL and I/O errors), the old
        // ROLLBACK failed with "cannot rollback - no transaction is active" and that replaced the original error.
        var original = new SqliteException("SQLite Error 13: 'database or disk is full'.", 13);
        var seen = Assert.Throws<SqliteException>(() => db.InTransaction<int>(() =>
        {
            db.Execute("ROLLBACK");
            throw original;
        }));
        Assert.Same(original, seen);

        // Once there is room again the same connection works: no transaction was left open.
        db.Execute("PRAGMA max_page_count = 1073741823");
        db.InTransaction(() => db.Execute("INSERT INTO t(v) VALUES($v)", ("$v", new byte[64 * 1024])));
        Assert.Equal(1, db.Count("SELECT COUNT(*) FROM t"));
    }

    [Fact]
    public void Rejections_are_pruned_to_their_row_bound_and_age()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var registry = ModelRegistry.Open(Path.Combine(_dir, "reg"), time);
        for (var i = 0; i < 50; i++)
            registry.Rejections.Record(new RejectionRecord(time.GetUtcNow().AddDays(i < 10 ? -40 : 0), "d", null, RejectionReason.Malformed, $"garbage {i}"));

        var deleted = RegistryRetention.Sweep(registry, new RetentionOptions { RejectionsMaxRows = 25, RejectionsMaxAge = TimeSpan.FromDays(30) }, TimeSpan.Zero);

        Assert.Equal(25, deleted.Rejections);
        Assert.Equal(25, registry.Rejections.Count());
    }

    [Fact]
    public void Artifacts_and_caches_of_old_versions_go_and_the_current_release_canary_and_newest_K_stay()
    {
        using var kit = AggregatorTestKit.ForUnitTests();
        using var registry = ModelRegistry.Open(kit.RegistryPath);
        var seed = registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)!;
        var seedModel = RegistryModels.Load(registry, seed); // extracts the seed into cache/
        var versions = new List<ModelVersionRecord>();
        for (var i = 1; i <= 8; i++)
        {
            var status = i switch { 1 => VersionStatus.Released, 8 => VersionStatus.Canary, _ => VersionStatus.RolledBack };
            var sha = registry.Artifacts.Put(Encoding.UTF8.GetBytes($"bundle {i}"));
            registry.AddVersion(seed with { Version = $"1.{i}.0", Parent = "1.0.0", Status = status, ArtifactSha256 = sha });
            versions.Add(registry.GetVersion(AggregatorTestKit.Model, $"1.{i}.0")!);
        }

        var deleted = RegistryRetention.Sweep(registry, new RetentionOptions { KeepVersions = 3 }, TimeSpan.FromHours(1));

        // Kept: 1.1.0 (the current release: the newest released), 1.6.0–1.8.0 (newest 3; 1.8.0 is also the canary).
        // Gone: the seed 1.0.0 (and its extracted cache) and the rolled-back 1.2.0–1.5.0.
        bool Stored(ModelVersionRecord v) => File.Exists(((FileArtifactStore)registry.Artifacts).PathOf(v.ArtifactSha256));
        Assert.Equal(["1.1.0", "1.6.0", "1.7.0", "1.8.0"], versions.Where(Stored).Select(v => v.Version));
        Assert.False(Stored(seed));
        Assert.Equal(5, deleted.Artifacts);
        Assert.Equal(1, deleted.Caches);
        Assert.False(Directory.Exists(seedModel.Bundle.Directory));
        // The rows stay as history.
        Assert.Equal(9, registry.ListVersions(AggregatorTestKit.Model).Count);
    }

    [Fact]
    public void Attack_crash_left_temp_files_are_swept_when_the_registry_opens()
    {
        var path = Path.Combine(_dir, "reg");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        string artifacts;
        using (var registry = ModelRegistry.Open(path, time))
            artifacts = ((FileArtifactStore)registry.Artifacts).Directory;
        // What a kill -9 in the middle of a write leaves: an AtomicFile temp, an old-style *.tmp, a half-extracted cache.
        var stale = new[]
        {
            Path.Combine(artifacts, $".abc.bundle.{Guid.NewGuid():N}{AtomicFile.TempSuffix}"),
            Path.Combine(artifacts, $"abc.bundle.{Guid.NewGuid():N}.tmp"),
        };
        foreach (var f in stale) File.WriteAllText(f, "partial");
        var staging = Path.Combine(path, "cache", $"abc.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        var fresh = Path.Combine(artifacts, $".def.bundle.{Guid.NewGuid():N}{AtomicFile.TempSuffix}");
        File.WriteAllText(fresh, "another instance is writing this right now");
        foreach (var f in stale) File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddHours(-1));
        Directory.SetLastWriteTimeUtc(staging, DateTime.UtcNow.AddHours(-1));

        using (var reopened = ModelRegistry.Open(path, time))
        {
            Assert.Equal(2, ((FileArtifactStore)reopened.Artifacts).SweptTempFiles);
            Assert.All(stale, f => Assert.False(File.Exists(f), f));
            Assert.False(Directory.Exists(staging));
            Assert.True(File.Exists(fresh), "a temp file younger than the grace period may belong to a live writer");
            // Artifacts are written through AtomicFile now: no temp file left after a put.
            reopened.Artifacts.Put([1, 2, 3]);
        }
        Assert.Equal([Path.GetFileName(fresh)], Directory.GetFiles(artifacts).Select(Path.GetFileName).Where(n => !n!.EndsWith(".bundle", StringComparison.Ordinal)));
    }
}
