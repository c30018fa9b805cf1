using System.Text;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.Fleet.Identity;

/// <summary>What a client asks to do with a topic.</summary>
public enum AclAccess
{
    /// <summary>Publish a message (retained or not) on a concrete topic.</summary>
    Publish,

    /// <summary>
    /// Receive the messages of a topic, or of every topic a filter matches. Mosquitto 2 grants every SUBSCRIBE and checks
    /// read access per delivered message; a broker that checks at subscribe time asks for the filter itself.
    /// </summary>
    Subscribe,
}

/// <summary>One grant of the fleet ACL: a role may publish or receive the topics a filter matches.</summary>
/// <param name="Role">Who the grant is for.</param>
/// <param name="Access">Publish or receive.</param>
/// <param name="Filter">An MQTT topic filter; <see cref="FleetAcl.Self"/> stands for the client's own username (a device's id).</param>
/// <param name="Why">The reason for the grant, written next to it in the broker's ACL file.</param>
public sealed record FleetAclRule(FleetRole Role, AclAccess Access, string Filter, string Why);

/// <summary>
/// The one definition of who may publish and receive what in a fleet (docs/protocol.md, "Access control"): the rules as
/// data, <see cref="Allows"/> to decide one request (the embedded broker's interceptors use it), and
/// <see cref="RenderMosquitto"/> to write the same rules as a Mosquitto <c>acl_file</c>.
/// <list type="bullet">
/// <item>A device publishes only its own <c>device/{id}/status|telemetry|delta|reply|samples</c> and receives its own
/// <c>cmd</c> and <c>samples</c> and the releases (<c>model/#</c>).</item>
/// <item>Aggregators alone publish <c>model/#</c> (releases and chunks); they receive device status, telemetry, deltas
/// (also through <c>$share/{group}/…</c>) and replies, and send commands (canary rollbacks).</item>
/// <item>Operators send commands and samples to any device and receive everything under <c>cl/{fleet}/</c>; they do not
/// publish releases: <c>cl model publish --key</c> runs with an aggregator certificate.</item>
/// <item>Anonymous clients and the broker's own certificate get nothing.</item>
/// </list>
/// Device rules are Mosquitto <c>pattern</c> lines, which the broker applies to every client with its own username
/// substituted; <see cref="Allows"/> does the same, so an aggregator or operator also "owns"
/// <c>device/aggregator:NAME/…</c> — a topic no device can be (device ids may not contain ':').
/// </summary>
public sealed class FleetAcl
{
    /// <summary>Placeholder for the client's own username in <see cref="FleetAclRule.Filter"/>.</summary>
    public const string Self = "{self}";

    private const string SharePrefix = "$share/";

    private readonly HashSet<string>? _aggregators;
    private readonly HashSet<string>? _operators;

    /// <summary>The ACL of <paramref name="fleet"/>.</summary>
    /// <param name="fleet">The fleet (second topic level).</param>
    /// <param name="aggregators">Aggregator names the ACL grants aggregator rights to; null grants them to every
    /// aggregator certificate (a broker that reads the role from the certificate). Mosquitto needs the names.</param>
    /// <param name="operators">Operator names, likewise.</param>
    public FleetAcl(string fleet, IEnumerable<string>? aggregators = null, IEnumerable<string>? operators = null)
    {
        Fleet = FleetTopics.Id(fleet, "fleet");
        _aggregators = Names(FleetRole.Aggregator, aggregators);
        _operators = Names(FleetRole.Operator, operators);
        var f = $"{FleetTopics.Root}/{Fleet}";
        var own = $"{f}/device/{Self}";
        var any = $"{f}/device/+";
        Rules =
        [
            new(FleetRole.Device, AclAccess.Publish, $"{own}/status", "retained online/offline status, also its last will"),
            new(FleetRole.Device, AclAccess.Publish, $"{own}/telemetry", "periodic metrics"),
            new(FleetRole.Device, AclAccess.Publish, $"{own}/delta", "weight deltas for the aggregator"),
            new(FleetRole.Device, AclAccess.Publish, $"{own}/reply", "replies to commands, only on its own reply topic"),
            new(FleetRole.Device, AclAccess.Publish, $"{own}/samples", "a local sensor gateway publishes with the device's own certificate"),
            new(FleetRole.Device, AclAccess.Subscribe, $"{own}/cmd", "its commands"),
            new(FleetRole.Device, AclAccess.Subscribe, $"{own}/samples", "its samples"),
            new(FleetRole.Device, AclAccess.Subscribe, $"{f}/model/#", "releases and their chunks"),
            new(FleetRole.Aggregator, AclAccess.Publish, $"{f}/model/#", "the only role that publishes releases and chunks"),
            new(FleetRole.Aggregator, AclAccess.Publish, $"{any}/cmd", "canary rollback commands"),
            new(FleetRole.Aggregator, AclAccess.Subscribe, $"{any}/status", "rollout cohorts"),
            new(FleetRole.Aggregator, AclAccess.Subscribe, $"{any}/telemetry", "canary accuracy"),
            new(FleetRole.Aggregator, AclAccess.Subscribe, $"{any}/delta", "deltas, also as $share/{group}/…"),
            new(FleetRole.Aggregator, AclAccess.Subscribe, $"{any}/reply", "replies to its commands"),
            new(FleetRole.Aggregator, AclAccess.Subscribe, $"{f}/model/#", "its own retained releases"),
            new(FleetRole.Operator, AclAccess.Publish, $"{any}/cmd", "commands (cl device cmd)"),
            new(FleetRole.Operator, AclAccess.Publish, $"{any}/samples", "labelled samples for a device"),
            new(FleetRole.Operator, AclAccess.Subscribe, $"{f}/#", "everything in the fleet (cl fleet ls, replies)"),
        ];
    }

    /// <summary>The fleet the rules are for.</summary>
    public string Fleet { get; }

    /// <summary>Every grant; anything not granted is denied.</summary>
    public IReadOnlyList<FleetAclRule> Rules { get; }

    /// <summary>
    /// True when <paramref name="who"/> may <paramref name="access"/> <paramref name="topic"/>: a concrete topic, or for
    /// <see cref="AclAccess.Subscribe"/> a filter (allowed only when every topic it matches is), optionally as a
    /// shared subscription <c>$share/{group}/{filter}</c>. Null (anonymous) is always denied.
    /// </summary>
    public bool Allows(FleetIdentity? who, string topic, AclAccess access)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (who is null || who.Role == FleetRole.Broker || !FleetTopics.IsValidId(who.Name)) return false;
        if (access == AclAccess.Subscribe && topic.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            var slash = topic.IndexOf('/', SharePrefix.Length);
            if (slash <= SharePrefix.Length || !FleetTopics.IsValidId(topic[SharePrefix.Length..slash])) return false;
            topic = topic[(slash + 1)..];
        }
        if (topic.Length == 0 || topic[0] == '$') return false;
        if (access == AclAccess.Publish && topic.AsSpan().IndexOfAny('+', '#') >= 0) return false;
        foreach (var rule in Rules)
        {
            if (rule.Access != access || !AppliesTo(rule, who)) continue;
            if (Covers(rule.Filter.Replace(Self, who.Username, StringComparison.Ordinal), topic)) return true;
        }
        return false;
    }

    /// <summary>
    /// The rules as a Mosquitto 2 <c>acl_file</c> (clients authenticated by certificate with
    /// <c>use_identity_as_username</c>): device rules as <c>pattern</c> lines with <c>%u</c>, then one <c>user</c> block
    /// per aggregator and operator name.
    /// </summary>
    public string RenderMosquitto()
    {
        if (_aggregators is null || _operators is null)
            throw new InvalidOperationException("A Mosquitto ACL names every aggregator and operator; create the FleetAcl with their names (cl broker config --aggregator NAME --operator NAME).");
        var text = new StringBuilder()
            .Append("# Fleet '").Append(Fleet).AppendLine("' ACL written by `cl broker config` from FleetAcl; regenerate it rather than edit it.")
            .AppendLine("# Usernames are certificate CNs: a device id, aggregator:NAME or operator:NAME. Anything not listed is denied.")
            .AppendLine()
            .AppendLine("# Devices (patterns apply to every client; %u is its own CN, so each device gets its own topics only).");
        foreach (var rule in Rules.Where(r => r.Role == FleetRole.Device))
            text.Append("# ").AppendLine(rule.Why).Append("pattern ").Append(Verb(rule.Access)).Append(' ').AppendLine(rule.Filter.Replace(Self, "%u", StringComparison.Ordinal));
        foreach (var (role, names) in new[] { (FleetRole.Aggregator, _aggregators), (FleetRole.Operator, _operators) })
        {
            foreach (var name in names.Order(StringComparer.Ordinal))
            {
                text.AppendLine().Append("user ").AppendLine(new FleetIdentity(role, name).Username);
                foreach (var rule in Rules.Where(r => r.Role == role))
                    text.Append("# ").AppendLine(rule.Why).Append("topic ").Append(Verb(rule.Access)).Append(' ').AppendLine(rule.Filter);
            }
        }
        return text.ToString();
    }

    /// <summary>True when MQTT filter <paramref name="filter"/> matches every topic that <paramref name="subject"/> (a topic or a filter) matches.</summary>
    internal static bool Covers(string filter, string subject)
    {
        var rule = filter.Split('/');
        var asked = subject.Split('/');
        for (var i = 0; i < rule.Length; i++)
        {
            if (rule[i] == "#") return true;
            if (i >= asked.Length || asked[i] == "#") return false;
            if (rule[i] == "+") continue;
            if (asked[i] != rule[i]) return false;
        }
        return rule.Length == asked.Length;
    }

    // Patterns apply to every client in Mosquitto, so device rules do here too (see the class remarks).
    private bool AppliesTo(FleetAclRule rule, FleetIdentity who) => rule.Role switch
    {
        FleetRole.Device => true,
        FleetRole.Aggregator => who.Role == FleetRole.Aggregator && (_aggregators?.Contains(who.Name) ?? true),
        FleetRole.Operator => who.Role == FleetRole.Operator && (_operators?.Contains(who.Name) ?? true),
        _ => false,
    };

    private static HashSet<string>? Names(FleetRole role, IEnumerable<string>? names)
    {
        if (names is null) return null;
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            FleetIdentity.Validate(role, name);
            set.Add(name);
        }
        return set;
    }

    private static string Verb(AclAccess access) => access == AclAccess.Publish ? "write" : "read";
}
