using static ContinualLearning.Tests.Chaos.RegistryAudit;

namespace ContinualLearning.Tests.Chaos;

/// <summary>The chaos test's audit must see each kind of damage it claims to rule out: a clean history passes, each broken one names its fault.</summary>
public sealed class RegistryAuditTests
{
    private static readonly string[] Sent = ["a", "b", "c", "d"];

    // 1.0.0 root; 1.1.0 (a, b) promoted; 1.2.0 (c) rolled back; 1.3.0 (d) on 1.1.0 promoted.
    private static RegistryAudit Clean() => new()
    {
        Versions =
        [
            new VersionRow(1, "1.0.0", null, "released", []),
            new VersionRow(2, "1.1.0", "1.0.0", "released", ["a", "b"]),
            new VersionRow(3, "1.2.0", "1.1.0", "rolled-back", ["c"]),
            new VersionRow(4, "1.3.0", "1.1.0", "released", ["d"]),
        ],
        Seen = new Dictionary<string, (string, string?)>
        {
            ["a"] = ("aggregated", "1.1.0"), ["b"] = ("aggregated", "1.1.0"), ["c"] = ("aggregated", "1.2.0"), ["d"] = ("aggregated", "1.3.0"),
        },
        Pending = 0,
        Decisions =
        [
            (1, "1.1.0", "canary-started"), (2, "1.1.0", "promoted"), (3, "1.2.0", "canary-started"), (4, "1.2.0", "rolled-back"),
            (5, "1.3.0", "canary-started"), (6, "1.3.0", "promoted"),
        ],
        Releases = [(10, "1.1.0", "canary", true), (11, "1.1.0", "all", true), (12, "1.2.0", "canary", true), (13, "1.1.0", "all", true), (14, "1.3.0", "canary", true), (15, "1.3.0", "all", true)],
        Rejections = [("a", "duplicate")],
        VersionDeltas = new Dictionary<string, string> { ["a"] = "1.1.0", ["b"] = "1.1.0", ["c"] = "1.2.0", ["d"] = "1.3.0" },
    };

    [Fact]
    public void A_clean_history_passes() => Assert.Empty(Clean().Check(Sent, "1.3.0"));

    [Fact]
    public void A_delta_in_two_versions_is_double_counted()
    {
        var audit = Clean();
        audit = audit with { Versions = [.. audit.Versions.Take(3), audit.Versions[3] with { DeltaIds = ["d", "a"] }] };
        Assert.Contains(audit.Check(Sent, "1.3.0"), f => f.StartsWith("double-counted: delta a", StringComparison.Ordinal));
    }

    [Fact]
    public void A_sent_delta_in_no_version_is_lost_and_a_drop_needs_an_allowed_reason()
    {
        Assert.Contains(Clean().Check([.. Sent, "e"], "1.3.0"), f => f.StartsWith("lost: 1 of 5", StringComparison.Ordinal));
        var dropped = Clean() with
        {
            Seen = new Dictionary<string, (string, string?)>(Clean().Seen) { ["e"] = ("dropped", null) },
            Rejections = [("e", "norm-too-large")],
        };
        Assert.Contains(dropped.Check([.. Sent, "e"], "1.3.0"), f => f.Contains("not an allowed reason", StringComparison.Ordinal));
        Assert.Empty((dropped with { Rejections = [("e", "too-stale")] }).Check([.. Sent, "e"], "1.3.0"));
    }

    [Fact]
    public void A_version_built_on_an_older_release_is_a_fork()
    {
        var audit = Clean();
        audit = audit with { Versions = [.. audit.Versions.Take(3), audit.Versions[3] with { Parent = "1.0.0" }] };
        Assert.Contains(audit.Check(Sent, "1.3.0"), f => f.Contains("a fork", StringComparison.Ordinal));
    }

    [Fact]
    public void A_canary_decided_twice_or_a_release_never_sent_is_found()
    {
        var twice = Clean() with { Decisions = [.. Clean().Decisions, (7, "1.3.0", "rolled-back")] };
        Assert.Contains(twice.Check(Sent, "1.3.0"), f => f.StartsWith("1.3.0 decided 2 times", StringComparison.Ordinal));
        var unsent = Clean() with { Releases = [.. Clean().Releases.Take(5), (15, "1.3.0", "all", false)] };
        Assert.Contains(unsent.Check(Sent, "1.3.0"), f => f.Contains("never published", StringComparison.Ordinal));
        Assert.Contains(Clean().Check(Sent, "1.1.0"), f => f.StartsWith("the retained release on the wire is 1.1.0", StringComparison.Ordinal));
    }
}
