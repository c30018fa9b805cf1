using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>Versions: immutable rows in insertion order, numbers never reused, status changes as compare-and-set.</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task AddVersion_refuses_a_version_that_exists_and_keeps_the_first()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.0.0") with { ArtifactSha256 = new string('1', 64) });

        var again = Assert.Throws<InvalidOperationException>(() => registry.AddVersion(Version("m", "1.0.0", VersionStatus.Candidate) with { ArtifactSha256 = new string('2', 64) }));

        Assert.Contains("m version 1.0.0 is already in the registry", again.Message, StringComparison.Ordinal);
        var kept = registry.GetVersion("m", "1.0.0")!;
        Assert.Equal(new string('1', 64), kept.ArtifactSha256);
        Assert.Equal(VersionStatus.Released, kept.Status);
        Assert.Single(registry.ListVersions("m"));
        registry.AddVersion(Version("other", "1.0.0")); // the same number of another model is another version
    }

    [Fact]
    public async Task CountVersionsWithParent_counts_the_versions_a_round_made_of_that_model_only()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m.c1", "1.0.0"));
        Assert.Equal(0, registry.CountVersionsWithParent("m.c1"));
        registry.AddVersion(Version("m.c1", "1.1.0", VersionStatus.Candidate) with { Parent = "1.0.0" });
        registry.AddVersion(Version("m.c1", "1.2.0", VersionStatus.RolledBack) with { Parent = "1.1.0" });
        registry.AddVersion(Version("m", "1.1.0") with { Parent = "1.0.0" });

        Assert.Equal(2, registry.CountVersionsWithParent("m.c1"));
        Assert.Equal(1, registry.CountVersionsWithParent("m"));
        Assert.Equal(0, registry.CountVersionsWithParent("absent"));
    }

    [Fact]
    public async Task GetVersion_returns_every_field_as_written()
    {
        var registry = await OpenAsync();
        var written = new ModelVersionRecord
        {
            Name = "kws",
            Version = "1.1.0",
            Parent = "1.0.0",
            Created = T0.AddDays(-3),
            Status = VersionStatus.Candidate,
            ArtifactSha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            DeltaIds = [Id(2), Id(1)],
            DeviceIds = ["pi-07", "pi-01"],
            SampleCounts = [32, 5_000_000_000],
            MetricsJson = """{"holdoutAccuracy":0.913,"deltas":2,"note":"ünïcode ✓"}""",
        };
        registry.AddVersion(written);

        var read = registry.GetVersion("kws", "1.1.0");

        Assert.NotNull(read);
        Assert.True(read.Seq > 0);
        Assert.Equal(("kws", "1.1.0", "1.0.0", VersionStatus.Candidate, written.ArtifactSha256), (read.Name, read.Version, read.Parent, read.Status, read.ArtifactSha256));
        AssertSameTime(written.Created, read.Created);
        Assert.Equal(written.DeltaIds, read.DeltaIds);
        Assert.Equal(written.DeviceIds, read.DeviceIds);
        Assert.Equal(written.SampleCounts, read.SampleCounts);
        AssertSameJson(written.MetricsJson, read.MetricsJson);
        Assert.Null(registry.GetVersion("kws", "1.2.0"));
        Assert.Null(registry.GetVersion("other", "1.1.0"));
    }

    [Fact]
    public async Task A_version_without_a_creation_time_is_dated_by_the_registry_clock()
    {
        var registry = await OpenAsync();
        Clock.Set(T0.AddHours(5));

        registry.AddVersion(Version("m", "1.0.0") with { Created = default, Parent = null });

        var read = registry.GetVersion("m", "1.0.0")!;
        AssertSameTime(T0.AddHours(5), read.Created);
        Assert.Null(read.Parent);
        Assert.Empty(read.DeltaIds);
        AssertSameJson("{}", read.MetricsJson);
    }

    [Fact]
    public async Task ListVersions_is_in_insertion_order_for_one_model_or_all()
    {
        var registry = await OpenAsync();
        foreach (var (name, version) in new[] { ("m", "1.0.0"), ("other", "1.0.0"), ("m", "1.2.0"), ("m", "1.10.0"), ("m", "1.1.0") })
            registry.AddVersion(Version(name, version));

        Assert.Equal(["1.0.0", "1.2.0", "1.10.0", "1.1.0"], registry.ListVersions("m").Select(v => v.Version));
        var all = registry.ListVersions();
        Assert.Equal(["m/1.0.0", "other/1.0.0", "m/1.2.0", "m/1.10.0", "m/1.1.0"], all.Select(v => $"{v.Name}/{v.Version}"));
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Seq < p.Second.Seq), "Seq must grow with insertion.");
        Assert.Empty(registry.ListVersions("none"));
    }

    [Fact]
    public async Task Latest_is_the_newest_by_insertion_with_that_status()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.0.0"));
        registry.AddVersion(Version("m", "1.1.0", VersionStatus.Candidate));
        registry.AddVersion(Version("m", "1.3.0"));
        registry.AddVersion(Version("m", "1.2.0")); // inserted last, numbered lower: insertion decides
        registry.AddVersion(Version("other", "2.0.0"));

        Assert.Equal("1.2.0", registry.Latest("m", VersionStatus.Released)?.Version);
        Assert.Equal("1.1.0", registry.Latest("m", VersionStatus.Candidate)?.Version);
        Assert.Null(registry.Latest("m", VersionStatus.Canary));
        Assert.Null(registry.Latest("none", VersionStatus.Released));
    }

    [Fact]
    public async Task NextVersion_is_one_minor_above_the_highest_version_ever_and_never_reuses_a_number()
    {
        var registry = await OpenAsync();
        Assert.Equal("1.0.0", registry.NextVersion("m"));

        registry.AddVersion(Version("m", "1.0.0"));
        Assert.Equal("1.1.0", registry.NextVersion("m"));

        registry.AddVersion(Version("m", "1.9.0"));
        registry.AddVersion(Version("m", "1.10.0", VersionStatus.Rejected)); // numerically highest, text-wise lower than 1.9.0
        registry.AddVersion(Version("m", "1.2.0"));
        Assert.Equal("1.11.0", registry.NextVersion("m"));

        Assert.True(registry.TryTransition("m", "1.10.0", VersionStatus.Rejected, VersionStatus.RolledBack));
        Assert.Equal("1.11.0", registry.NextVersion("m"));

        registry.AddVersion(Version("other", "3.4.0"));
        Assert.Equal("1.11.0", registry.NextVersion("m"));
        Assert.Equal("3.5.0", registry.NextVersion("other"));
    }

    [Fact]
    public async Task ReleasesSince_counts_the_published_versions_inserted_after_the_base()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.0.0"));
        registry.AddVersion(Version("m", "1.1.0", VersionStatus.Candidate));
        registry.AddVersion(Version("m", "1.2.0", VersionStatus.Rejected));
        registry.AddVersion(Version("m", "1.3.0", VersionStatus.Canary));
        registry.AddVersion(Version("other", "1.0.0"));
        registry.AddVersion(Version("m", "1.4.0", VersionStatus.RolledBack));
        registry.AddVersion(Version("m", "1.5.0"));

        Assert.Equal(3, registry.ReleasesSince("m", "1.0.0"));
        Assert.Equal(2, registry.ReleasesSince("m", "1.3.0"));
        Assert.Equal(0, registry.ReleasesSince("m", "1.5.0"));
        Assert.Null(registry.ReleasesSince("m", "9.0.0"));
        Assert.Equal(0, registry.ReleasesSince("other", "1.0.0"));
    }

    [Fact]
    public async Task TryTransition_changes_a_status_only_from_the_expected_one()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.1.0", VersionStatus.Candidate));
        registry.AddVersion(Version("other", "1.1.0", VersionStatus.Candidate));

        Assert.True(registry.TryTransition("m", "1.1.0", VersionStatus.Candidate, VersionStatus.Canary));
        Assert.False(registry.TryTransition("m", "1.1.0", VersionStatus.Candidate, VersionStatus.Rejected)); // the second caller loses
        Assert.Equal(VersionStatus.Canary, registry.GetVersion("m", "1.1.0")!.Status);
        Assert.True(registry.TryTransition("m", "1.1.0", VersionStatus.Canary, VersionStatus.Released));
        Assert.False(registry.TryTransition("m", "9.9.9", VersionStatus.Candidate, VersionStatus.Canary));

        Assert.Equal(VersionStatus.Released, registry.GetVersion("m", "1.1.0")!.Status);
        Assert.Equal(VersionStatus.Candidate, registry.GetVersion("other", "1.1.0")!.Status);
    }

    [Fact]
    public async Task TryTransition_from_two_registries_at_once_lets_exactly_one_win_per_version()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();
        var versions = Enumerable.Range(1, 40).Select(i => $"1.{i}.0").ToArray();
        foreach (var v in versions) first.AddVersion(Version("m", v, VersionStatus.Candidate));

        Func<bool[]> Race(ModelRegistry registry, string to) => () => versions.Select(v => registry.TryTransition("m", v, VersionStatus.Candidate, to)).ToArray();
        var wins = await RunTogether(Race(first, VersionStatus.Canary), Race(second, VersionStatus.Rejected));

        for (var i = 0; i < versions.Length; i++)
        {
            Assert.True(wins[0][i] ^ wins[1][i], $"Version {versions[i]}: first won {wins[0][i]}, second won {wins[1][i]}; exactly one must.");
            Assert.Equal(wins[0][i] ? VersionStatus.Canary : VersionStatus.Rejected, second.GetVersion("m", versions[i])!.Status);
        }
    }

    [Fact]
    public async Task Lineage_follows_parent_links_from_the_version_itself()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.0.0"));
        registry.AddVersion(Version("m", "1.1.0", parent: "1.0.0"));
        registry.AddVersion(Version("m", "1.2.0", parent: "1.1.0"));
        registry.AddVersion(Version("m", "1.3.0", parent: "1.1.0"));
        registry.AddVersion(Version("m", "2.0.0", parent: "0.9.0")); // parent never registered: the chain ends there

        Assert.Equal(["1.2.0", "1.1.0", "1.0.0"], registry.Lineage("m", "1.2.0").Select(v => v.Version));
        Assert.Equal(["1.3.0", "1.1.0", "1.0.0"], registry.Lineage("m", "1.3.0").Select(v => v.Version));
        Assert.Equal(["2.0.0"], registry.Lineage("m", "2.0.0").Select(v => v.Version));
        Assert.Empty(registry.Lineage("m", "5.0.0"));
    }

    [Fact]
    public async Task UpdateMetrics_replaces_the_metrics_of_that_version_only()
    {
        var registry = await OpenAsync();
        registry.AddVersion(Version("m", "1.0.0") with { MetricsJson = """{"a":1}""" });
        registry.AddVersion(Version("m", "1.1.0") with { MetricsJson = """{"a":2}""" });

        registry.UpdateMetrics("m", "1.1.0", """{"a":3,"canary":{"accuracy":0.5}}""");

        AssertSameJson("""{"a":1}""", registry.GetVersion("m", "1.0.0")!.MetricsJson);
        AssertSameJson("""{"a":3,"canary":{"accuracy":0.5}}""", registry.GetVersion("m", "1.1.0")!.MetricsJson);
    }
}
