using System.Security.Cryptography;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Validation;

namespace ContinualLearning.Tests.Registry;

/// <summary>Decisions, rejections, release sequences and artifacts.</summary>
public abstract partial class RegistryContractTests
{
    [Fact]
    public async Task Decisions_are_listed_in_the_order_made_and_filtered_by_model_and_version()
    {
        var registry = await OpenAsync();
        registry.Decisions.Record("m", "1.1.0", DecisionKind.CanaryStarted, "canary of 3", """{"devices":["pi-01","pi-02","pi-03"]}""");
        Clock.Advance(TimeSpan.FromSeconds(1));
        registry.Decisions.Record("m", "1.1.0", DecisionKind.Promoted, "canary did well", """{"canary":0.91,"control":0.88}""");
        Clock.Advance(TimeSpan.FromHours(-1)); // a clock set back does not reorder the history
        registry.Decisions.Record("other", "1.1.0", DecisionKind.Published, "cl model publish", "{}");
        registry.Decisions.Record("m", "1.2.0", DecisionKind.HoldoutFail, "worse on holdout", """{"accuracy":0.5}""");

        var all = registry.Decisions.List();

        Assert.Equal(
            [("m", "1.1.0", DecisionKind.CanaryStarted), ("m", "1.1.0", DecisionKind.Promoted), ("other", "1.1.0", DecisionKind.Published), ("m", "1.2.0", DecisionKind.HoldoutFail)],
            all.Select(d => (d.Name, d.Version, d.Decision)));
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Id < p.Second.Id), "Ids must grow in the order decisions are made.");
        AssertSameTime(T0, all[0].At);
        AssertSameTime(T0.AddSeconds(1), all[1].At);
        AssertSameTime(T0.AddSeconds(1).AddHours(-1), all[2].At);
        Assert.Equal("canary did well", all[1].Reason);
        AssertSameJson("""{"control":0.88,"canary":0.91}""", all[1].NumbersJson);

        Assert.Equal([DecisionKind.CanaryStarted, DecisionKind.Promoted, DecisionKind.HoldoutFail], registry.Decisions.List("m").Select(d => d.Decision));
        Assert.Equal([DecisionKind.CanaryStarted, DecisionKind.Promoted], registry.Decisions.List("m", "1.1.0").Select(d => d.Decision));
        Assert.Equal([DecisionKind.CanaryStarted, DecisionKind.Promoted, DecisionKind.Published], registry.Decisions.List(version: "1.1.0").Select(d => d.Decision));
        Assert.Empty(registry.Decisions.List("none"));
        Assert.Empty(registry.Decisions.List("m", "9.0.0"));
    }

    [Fact]
    public async Task Rejections_are_recorded_and_counted_by_reason()
    {
        var registry = await OpenAsync();
        Assert.Equal(0, registry.Rejections.Count());
        Assert.Empty(registry.Rejections.Counts());

        registry.Rejections.Record(new RejectionRecord(T0, "pi-01", Id(1), RejectionReason.NormTooLarge, "norm 1e9 over 100"));
        registry.Rejections.Record(new RejectionRecord(T0, "pi-02", Id(2), RejectionReason.NormTooLarge, "norm 1e8 over 100"));
        registry.Rejections.Record(new RejectionRecord(T0, null, null, RejectionReason.Malformed, "not a delta"));

        Assert.Equal(3, registry.Rejections.Count());
        var counts = registry.Rejections.Counts();
        Assert.Equal(2, counts.Count);
        Assert.Equal((2, 1), (counts[RejectionReason.NormTooLarge], counts[RejectionReason.Malformed]));
    }

    [Fact]
    public async Task Prune_deletes_rejections_older_than_the_cut_then_the_oldest_beyond_the_row_bound()
    {
        var registry = await OpenAsync();
        for (var i = 0; i < 10; i++)
            registry.Rejections.Record(new RejectionRecord(T0.AddMinutes(i), "pi-01", Id(i), RejectionReason.TooStale, $"stale {i}"));

        Assert.Equal(3, registry.Rejections.Prune(maxRows: 100, before: T0.AddMinutes(3))); // minutes 0-2; the one at the cut stays
        Assert.Equal(7, registry.Rejections.Count());
        Assert.Equal(3, registry.Rejections.Prune(maxRows: 4, before: T0)); // minutes 3-5, the oldest
        Assert.Equal(4, registry.Rejections.Count());
        Assert.Equal(0, registry.Rejections.Prune(maxRows: 100, before: T0.AddMinutes(6))); // the newest four stayed: 6-9
        Assert.Equal(1, registry.Rejections.Prune(maxRows: 100, before: T0.AddMinutes(6).AddTicks(10)));
        Assert.Equal(0, registry.Rejections.Prune(maxRows: 3, before: T0));
        Assert.Equal(3, registry.Rejections.Count());
    }

    [Fact]
    public async Task Allocate_starts_at_the_clock_in_milliseconds_and_stays_strictly_increasing_when_the_clock_is_set_back()
    {
        var registry = await OpenAsync();
        Assert.Equal(0, registry.Releases.Highest("m"));
        var ms = T0.ToUnixTimeMilliseconds();

        var first = registry.Releases.Allocate("m", "1.0.0", "all");
        var sameMillisecond = registry.Releases.Allocate("m", "1.1.0", "canary");
        Clock.Advance(TimeSpan.FromDays(-1));
        var clockBack = registry.Releases.Allocate("m", "1.0.0", "all");
        Clock.Advance(TimeSpan.FromDays(2));
        var clockAhead = registry.Releases.Allocate("m", "1.2.0", "all");

        Assert.Equal([ms, ms + 1, ms + 2, ms + TimeSpan.FromDays(1).Ticks / TimeSpan.TicksPerMillisecond], [first, sameMillisecond, clockBack, clockAhead]);
        Assert.Equal(clockAhead, registry.Releases.Highest("m"));
        Assert.Equal([(first, "1.0.0", "all"), (sameMillisecond, "1.1.0", "canary"), (clockBack, "1.0.0", "all"), (clockAhead, "1.2.0", "all")], registry.Releases.List("m"));
        Assert.Equal(0, registry.Releases.Highest("other"));
        Assert.Empty(registry.Releases.List("other"));
        Assert.Equal(clockAhead, registry.Releases.Allocate("other", "1.0.0", "all")); // per model: the clock alone, not m's highest + 1
    }

    [Fact]
    public async Task Allocate_from_two_registries_at_once_never_hands_out_a_sequence_twice()
    {
        var first = await OpenAsync();
        var second = await OpenSecondAsync();

        Func<long[]> Allocations(ModelRegistry registry, string cohort) => () => Enumerable.Range(0, 25).Select(i => registry.Releases.Allocate("m", $"1.{i}.0", cohort)).ToArray();
        var sequences = await RunTogether(Allocations(first, "all"), Allocations(second, "canary"));

        var listed = first.Releases.List("m");
        Assert.Equal(50, listed.Count);
        Assert.Equal(50, sequences.SelectMany(s => s).Distinct().Count());
        Assert.All(sequences, s => Assert.True(s.Zip(s.Skip(1)).All(p => p.First < p.Second), "Each registry's sequences must increase."));
        Assert.Equal(sequences.SelectMany(s => s).Order(), listed.Select(r => r.Sequence));
        Assert.Equal(listed[^1].Sequence, second.Releases.Highest("m"));
    }

    [Fact]
    public async Task An_artifact_is_stored_once_under_its_sha256_and_read_back_by_any_registry()
    {
        var registry = await OpenAsync();
        var container = RandomNumberGenerator.GetBytes(300_000);
        var expected = Convert.ToHexStringLower(SHA256.HashData(container));

        var sha = registry.Artifacts.Put(container);
        var again = registry.Artifacts.Put(container);

        Assert.Equal(expected, sha);
        Assert.Equal(sha, again);
        Assert.Equal(container, registry.Artifacts.Read(sha));
        var second = await OpenSecondAsync();
        Assert.Equal(container, second.Artifacts.Read(sha));
        Assert.Equal(sha, second.Artifacts.Put(container));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData([])), registry.Artifacts.Put([]));
        Assert.Empty(registry.Artifacts.Read(Convert.ToHexStringLower(SHA256.HashData([]))));
    }

    [Fact]
    public async Task Reading_a_corrupted_artifact_fails_naming_its_hash()
    {
        var registry = await OpenAsync();
        var sha = registry.Artifacts.Put(RandomNumberGenerator.GetBytes(1000));
        await CorruptArtifactAsync(registry, sha, RandomNumberGenerator.GetBytes(1000));

        var corrupted = Assert.Throws<InvalidDataException>(() => registry.Artifacts.Read(sha));

        Assert.Contains(sha, corrupted.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt", corrupted.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Reading_a_missing_artifact_fails_saying_which_is_missing()
    {
        var registry = await OpenAsync();
        registry.Artifacts.Put([1, 2, 3]);
        var absent = Convert.ToHexStringLower(SHA256.HashData([4, 5, 6]));

        var missing = Assert.ThrowsAny<Exception>(() => registry.Artifacts.Read(absent));

        Assert.IsNotType<InvalidDataException>(missing); // missing is not corrupted
        Assert.Contains($"Artifact {absent} is missing", missing.Message, StringComparison.Ordinal);
    }
}
