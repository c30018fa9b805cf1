using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.UnitTests.Fleet;

public sealed class FleetAclTests
{
    private static readonly FleetIdentity Dev1 = new(FleetRole.Device, "dev-1");
    private static readonly FleetIdentity Aggregator = new(FleetRole.Aggregator, "agg-1");
    private static readonly FleetIdentity Operator = new(FleetRole.Operator, "alice");
    private readonly FleetAcl _acl = new("f", ["agg-1"], ["alice"]);

    [Theory]
    [InlineData("cl/f/device/dev-1/status")]
    [InlineData("cl/f/device/dev-1/telemetry")]
    [InlineData("cl/f/device/dev-1/delta")]
    [InlineData("cl/f/device/dev-1/reply")]
    [InlineData("cl/f/device/dev-1/samples")]
    public void A_device_publishes_its_own_topics(string topic) => Assert.True(_acl.Allows(Dev1, topic, AclAccess.Publish));

    [Theory]
    [InlineData("cl/f/device/dev-2/delta")]
    [InlineData("cl/f/device/dev-2/status")]
    [InlineData("cl/f/device/dev-2/samples")]
    [InlineData("cl/f/device/dev-2/cmd")]
    [InlineData("cl/f/device/dev-1/cmd")]
    [InlineData("cl/f/device/dev-2/reply")]
    [InlineData("cl/f/model/m/release")]
    [InlineData("cl/f/model/m/1.0.0/chunk/0")]
    [InlineData("cl/other/device/dev-1/delta")]
    [InlineData("cl/f/device/+/delta")]
    [InlineData("cl/f/device/dev-1/#")]
    public void Attack_a_device_publishing_outside_its_own_topics_is_denied(string topic) =>
        Assert.False(_acl.Allows(Dev1, topic, AclAccess.Publish));

    [Theory]
    [InlineData("cl/f/device/dev-1/cmd", true)]
    [InlineData("cl/f/device/dev-1/samples", true)]
    [InlineData("cl/f/model/#", true)]
    [InlineData("cl/f/model/m/release", true)]
    [InlineData("cl/f/model/m/1.0.0/chunk/+", true)]
    [InlineData("cl/f/device/dev-2/cmd", false)]
    [InlineData("cl/f/device/+/delta", false)]
    [InlineData("cl/f/device/dev-2/delta", false)]
    [InlineData("cl/f/#", false)]
    [InlineData("#", false)]
    [InlineData("$share/g/cl/f/device/+/delta", false)]
    public void A_device_receives_its_commands_samples_and_the_releases_only(string topic, bool allowed) =>
        Assert.Equal(allowed, _acl.Allows(Dev1, topic, AclAccess.Subscribe));

    [Theory]
    [InlineData("cl/f/model/m/release", AclAccess.Publish, true)]
    [InlineData("cl/f/model/m/1.0.0/chunk/3", AclAccess.Publish, true)]
    [InlineData("cl/f/device/dev-1/cmd", AclAccess.Publish, true)]
    [InlineData("cl/f/device/dev-1/delta", AclAccess.Publish, false)]
    [InlineData("cl/f/device/dev-1/samples", AclAccess.Publish, false)]
    [InlineData("cl/f/device/+/delta", AclAccess.Subscribe, true)]
    [InlineData("$share/aggregators/cl/f/device/+/delta", AclAccess.Subscribe, true)]
    [InlineData("cl/f/device/+/status", AclAccess.Subscribe, true)]
    [InlineData("cl/f/device/+/telemetry", AclAccess.Subscribe, true)]
    [InlineData("cl/f/device/+/reply", AclAccess.Subscribe, true)]
    [InlineData("cl/f/device/+/samples", AclAccess.Subscribe, false)]
    [InlineData("cl/f/device/+/cmd", AclAccess.Subscribe, false)]
    [InlineData("$share//cl/f/device/+/delta", AclAccess.Subscribe, false)]
    public void An_aggregator_publishes_releases_and_commands_and_reads_device_reports(string topic, AclAccess access, bool allowed) =>
        Assert.Equal(allowed, _acl.Allows(Aggregator, topic, access));

    [Theory]
    [InlineData("cl/f/device/dev-1/cmd", AclAccess.Publish, true)]
    [InlineData("cl/f/device/dev-1/samples", AclAccess.Publish, true)]
    [InlineData("cl/f/model/m/release", AclAccess.Publish, false)]
    [InlineData("cl/f/device/dev-1/delta", AclAccess.Publish, false)]
    [InlineData("cl/f/device/dev-1/status", AclAccess.Publish, false)]
    [InlineData("cl/f/#", AclAccess.Subscribe, true)]
    [InlineData("cl/other/#", AclAccess.Subscribe, false)]
    [InlineData("#", AclAccess.Subscribe, false)]
    public void An_operator_sends_commands_and_samples_and_reads_the_fleet_but_publishes_no_release(string topic, AclAccess access, bool allowed) =>
        Assert.Equal(allowed, _acl.Allows(Operator, topic, access));

    [Fact]
    public void Attack_anonymous_clients_unlisted_role_holders_and_the_broker_certificate_get_nothing_of_their_role()
    {
        Assert.False(_acl.Allows(null, "cl/f/device/dev-1/delta", AclAccess.Publish));
        Assert.False(_acl.Allows(null, "cl/f/model/#", AclAccess.Subscribe));
        Assert.False(_acl.Allows(new FleetIdentity(FleetRole.Aggregator, "agg-9"), "cl/f/model/m/release", AclAccess.Publish));
        Assert.False(_acl.Allows(new FleetIdentity(FleetRole.Operator, "mallory"), "cl/f/device/dev-1/cmd", AclAccess.Publish));
        Assert.False(_acl.Allows(new FleetIdentity(FleetRole.Broker, "b"), "cl/f/model/#", AclAccess.Subscribe));
        // A name that would put a wildcard into its own topics is refused outright (Mosquitto does not substitute it either).
        Assert.False(_acl.Allows(new FleetIdentity(FleetRole.Device, "+"), "cl/f/device/dev-2/delta", AclAccess.Publish));
        // Without names (a broker that reads the role from the certificate) every aggregator certificate is an aggregator.
        Assert.True(new FleetAcl("f").Allows(new FleetIdentity(FleetRole.Aggregator, "agg-9"), "cl/f/model/m/release", AclAccess.Publish));
    }

    [Fact]
    public void Mosquitto_rendering_writes_device_patterns_and_one_block_per_named_aggregator_and_operator()
    {
        var text = _acl.RenderMosquitto();

        Assert.Contains("pattern write cl/f/device/%u/delta\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("pattern read cl/f/model/#\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("user aggregator:agg-1\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("user operator:alice\n", text.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        // Every grant appears once per holder: 8 device patterns, 7 aggregator and 3 operator topics.
        Assert.Equal(8, lines.Count(l => l.StartsWith("pattern ", StringComparison.Ordinal)));
        Assert.Equal(10, lines.Count(l => l.StartsWith("topic ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("topic ", StringComparison.Ordinal) && l.Contains(FleetAcl.Self, StringComparison.Ordinal));
        Assert.Throws<InvalidOperationException>(() => new FleetAcl("f").RenderMosquitto());
        Assert.Throws<ArgumentException>(() => new FleetAcl("f", ["a:b"], []));
    }

    [Theory]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("a/+/c", "a/+/c", true)]
    [InlineData("a/+/c", "a/#", false)]
    [InlineData("a/b/c", "a/+/c", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b/c", "a/b", false)]
    public void Covers_matches_a_filter_against_a_topic_or_a_narrower_filter(string filter, string subject, bool covers) =>
        Assert.Equal(covers, FleetAcl.Covers(filter, subject));
}
