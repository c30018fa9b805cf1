using System.Globalization;
using System.Reflection;

namespace ContinualLearning.Aggregator.Registry;

/// <summary>
/// Numbered, forward-only schema migrations, applied when a registry opens. Each engine has its own files
/// (<c>Registry/Migrations/{Sqlite,Postgres}/NNNN_name.sql</c>, embedded in this assembly) because their DDL differs
/// (identity columns, timestamp and byte types); the numbers mean the same change on both. Each file runs in its own
/// transaction with its row in <c>schema_migrations</c>, so a crash leaves the schema at a whole version; processes
/// starting together take turns (<see cref="RegistryDatabase.LockMigrations"/>). There are no down migrations: a
/// database newer than this binary is refused rather than guessed at.
/// </summary>
internal static class RegistryMigrations
{
    private const string Prefix = "migrations/";

    /// <summary>A migration: its number, name and SQL.</summary>
    internal sealed record Migration(int Version, string Name, string Sql);

    /// <summary>Applies every migration of <paramref name="db"/>'s engine above the recorded version; returns how many.</summary>
    public static int Apply(RegistryDatabase db)
    {
        var migrations = For(db.Backend);
        var known = migrations[^1].Version;
        var applied = 0;
        foreach (var migration in migrations)
        {
            var ran = db.InTransaction(() =>
            {
                db.LockMigrations();
                db.Execute("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_utc TEXT NOT NULL)");
                var current = CurrentVersion(db);
                if (current > known)
                    throw new InvalidOperationException(
                        $"The registry's schema is version {current}, newer than this aggregator knows ({known}): a newer aggregator migrated it. Upgrade this aggregator (migrations are forward-only; there is no downgrade).");
                if (migration.Version <= current) return false;
                db.Execute(migration.Sql);
                db.Execute("INSERT INTO schema_migrations(version, name, applied_utc) VALUES(@v, @n, @a)",
                    ("@v", migration.Version), ("@n", migration.Name), ("@a", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)));
                return true;
            });
            if (ran) applied++;
        }
        return applied;
    }

    /// <summary>The highest migration recorded, 0 for a database that has none.</summary>
    public static int CurrentVersion(RegistryDatabase db) =>
        db.Count("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");

    /// <summary>The migrations of an engine in order ("sqlite" or "postgres").</summary>
    public static IReadOnlyList<Migration> For(string backend)
    {
        var folder = Prefix + (backend == "sqlite" ? "Sqlite" : "Postgres") + "/";
        var assembly = typeof(RegistryMigrations).Assembly;
        var list = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(folder, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => Read(assembly, n, n[folder.Length..^4]))
            .OrderBy(m => m.Version)
            .ToList();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version != i + 1)
                throw new InvalidOperationException($"Registry migrations for {backend} are not numbered 1..n: found {list[i].Version} at position {i + 1}.");
        }
        return list;
    }

    private static Migration Read(Assembly assembly, string resource, string fileName)
    {
        var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
        var version = int.Parse(fileName[..underscore], CultureInfo.InvariantCulture);
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return new Migration(version, fileName[(underscore + 1)..], reader.ReadToEnd());
    }
}
