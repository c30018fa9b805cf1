using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>Schema migrations: applied once, in order, by whichever registry opens first; a newer schema is refused.</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task A_new_database_gets_every_migration_of_its_engine_once_in_order()
    {
        var registry = await OpenAsync();

        var known = RegistryMigrations.For(registry.Backend);
        Assert.Equal(known.Select(m => m.Version), AppliedMigrations(registry));
        Assert.Equal(Enumerable.Range(1, known.Count), known.Select(m => m.Version));
        Assert.Equal(known[^1].Version, RegistryMigrations.CurrentVersion(registry.Database));
    }

    [Fact]
    public async Task Opening_an_existing_registry_again_changes_nothing()
    {
        var first = await OpenAsync();
        first.AddVersion(Version("m", "1.0.0"));
        first.Deltas.Admit("m", Delta(Id(1), "pi-01"), NoLimits);
        var applied = AppliedMigrations(first);
        first.Dispose();

        var again = await OpenSecondAsync();
        var third = await OpenSecondAsync();

        Assert.Equal(applied, AppliedMigrations(again));
        Assert.Equal(applied, AppliedMigrations(third));
        Assert.Equal("1.0.0", again.Latest("m", VersionStatus.Released)?.Version);
        Assert.Equal([Id(1)], third.Deltas.ListPending("m").Select(d => d.DeltaId));
    }

    [Fact]
    public async Task Two_registries_opening_a_new_database_at_once_migrate_it_once()
    {
        var location = await NewDatabaseAsync();
        var other = SameDatabase();

        var opened = await RunTogether(() => Opened(ModelRegistry.Open(location, Clock)), () => Opened(ModelRegistry.Open(other, Clock)));

        var known = RegistryMigrations.For(opened[0].Backend).Select(m => m.Version);
        Assert.Equal(known, AppliedMigrations(opened[0]));
        opened[0].AddVersion(Version("m", "1.0.0"));
        Assert.NotNull(opened[1].GetVersion("m", "1.0.0"));
    }

    [Fact]
    public async Task A_database_whose_schema_is_newer_than_this_binary_is_refused_naming_both_versions()
    {
        var registry = await OpenAsync();
        var known = RegistryMigrations.For(registry.Backend)[^1].Version;
        var future = known + 7;
        registry.Database.Execute("INSERT INTO schema_migrations(version, name, applied_utc) VALUES(@v, @n, @a)",
            ("@v", future), ("@n", "from_a_newer_aggregator"), ("@a", "2030-01-01T00:00:00.0000000Z"));
        registry.AddVersion(Version("m", "1.0.0"));
        registry.Dispose();

        var refused = Assert.Throws<InvalidOperationException>(() => Opened(ModelRegistry.Open(SameDatabase(), Clock)));

        Assert.Matches($@"\b{future}\b", refused.Message);
        Assert.Matches($@"\b{known}\b", refused.Message);
        Assert.Contains("Upgrade this aggregator", refused.Message, StringComparison.Ordinal);
    }

    private static List<int> AppliedMigrations(ModelRegistry registry) =>
        registry.Database.Query("SELECT version FROM schema_migrations ORDER BY version", r => RegistryDatabase.ReadInt(r, 0));
}
