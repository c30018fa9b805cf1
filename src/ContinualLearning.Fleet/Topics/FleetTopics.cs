namespace ContinualLearning.Fleet.Topics;

/// <summary>What a fleet topic is about.</summary>
public enum FleetTopicKind
{
    /// <summary><c>cl/{fleet}/device/{id}/status</c>: retained online/offline status.</summary>
    DeviceStatus,
    /// <summary><c>cl/{fleet}/device/{id}/telemetry</c>: periodic metrics.</summary>
    DeviceTelemetry,
    /// <summary><c>cl/{fleet}/device/{id}/delta</c>: a binary weight delta for the aggregator.</summary>
    DeviceDelta,
    /// <summary><c>cl/{fleet}/device/{id}/cmd</c>: a command to the device.</summary>
    DeviceCommand,
    /// <summary><c>cl/{fleet}/model/{name}/release</c>: the retained, signed release description.</summary>
    ModelRelease,
    /// <summary><c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>: one chunk of a release's bundle.</summary>
    ModelChunk,
    /// <summary><c>cl/{fleet}/device/{id}/samples</c>: samples from a local sensor gateway.</summary>
    DeviceSamples,
    /// <summary><c>cl/{fleet}/device/{id}/reply</c>: the device's replies to commands (with their correlation data).</summary>
    DeviceReply,
    /// <summary><c>cl/{fleet}/model/{name}/clusters</c>: the retained, signed cluster directory of a model (concept-aware aggregation).</summary>
    ModelClusters,
}

/// <summary>A parsed fleet topic. Fields that do not apply to the kind are null.</summary>
public sealed record FleetTopic(FleetTopicKind Kind, string Fleet, string? DeviceId = null, string? ModelName = null, string? Version = null, int? ChunkIndex = null);

/// <summary>
/// The MQTT topic scheme (docs/protocol.md):
/// <c>cl/{fleet}/device/{id}/status|telemetry|delta|cmd|reply|samples</c>, <c>cl/{fleet}/model/{name}/release</c>,
/// <c>cl/{fleet}/model/{name}/{version}/chunk/{n}</c>. Every id is validated so that no caller can
/// inject a level separator or wildcard into a topic (which would let a device publish as another).
/// </summary>
public static class FleetTopics
{
    /// <summary>First level of every fleet topic.</summary>
    public const string Root = "cl";

    /// <summary>Longest id accepted; keeps topics well under broker limits.</summary>
    public const int MaxIdLength = 128;

    /// <summary>The device's retained status topic.</summary>
    public static string Status(string fleet, string deviceId) => Device(fleet, deviceId, "status");

    /// <summary>The device's telemetry topic.</summary>
    public static string Telemetry(string fleet, string deviceId) => Device(fleet, deviceId, "telemetry");

    /// <summary>The topic the device publishes its deltas on.</summary>
    public static string DeltaTopic(string fleet, string deviceId) => Device(fleet, deviceId, "delta");

    /// <summary>The device's command topic.</summary>
    public static string Command(string fleet, string deviceId) => Device(fleet, deviceId, "cmd");

    /// <summary>Samples for one device (features, optionally with a label) from a local sensor gateway; JSON, QoS 1.</summary>
    public static string Samples(string fleet, string deviceId) => Device(fleet, deviceId, "samples");

    /// <summary>
    /// Where the device answers commands: always its own topic, whatever response topic the sender named, so a command
    /// cannot make a device publish anywhere else (and the broker ACL lets a device publish only under its own id).
    /// </summary>
    public static string CommandReply(string fleet, string deviceId) => Device(fleet, deviceId, "reply");

    /// <summary>The retained release topic of a model.</summary>
    public static string Release(string fleet, string modelName) =>
        $"{Root}/{Id(fleet, nameof(fleet))}/model/{Id(modelName, nameof(modelName))}/release";

    /// <summary>The retained cluster-directory topic of a model (<see cref="Messages.ClusterDirectory"/>).</summary>
    public static string Clusters(string fleet, string modelName) =>
        $"{Root}/{Id(fleet, nameof(fleet))}/model/{Id(modelName, nameof(modelName))}/clusters";

    /// <summary>Topic of chunk <paramref name="index"/> of a model version's bundle.</summary>
    public static string Chunk(string fleet, string modelName, string version, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return $"{Root}/{Id(fleet, nameof(fleet))}/model/{Id(modelName, nameof(modelName))}/{Version(version)}/chunk/{index}";
    }

    /// <summary>Subscription filter for one kind of device topic across the fleet, e.g. all deltas: <c>cl/f/device/+/delta</c>.</summary>
    public static string AllDevices(string fleet, FleetTopicKind kind) =>
        $"{Root}/{Id(fleet, nameof(fleet))}/device/+/{DeviceSuffix(kind)}";

    /// <summary>Subscription filter for every chunk of one model version.</summary>
    public static string AllChunks(string fleet, string modelName, string version) =>
        $"{Root}/{Id(fleet, nameof(fleet))}/model/{Id(modelName, nameof(modelName))}/{Version(version)}/chunk/+";

    /// <summary>
    /// Checks an id used as a topic level: non-empty, at most <see cref="MaxIdLength"/> characters, no '/', '+', '#',
    /// no control characters (MQTT forbids U+0000) and no leading '$' (reserved for broker topics).
    /// </summary>
    public static string Id(string value, string what = "id")
    {
        if (string.IsNullOrEmpty(value))
            throw new ArgumentException($"The {what} is empty; ids must be 1–{MaxIdLength} characters.", what);
        if (value.Length > MaxIdLength)
            throw new ArgumentException($"The {what} '{value[..20]}…' is {value.Length} characters; at most {MaxIdLength} are allowed.", what);
        if (value[0] == '$')
            throw new ArgumentException($"The {what} '{value}' starts with '$', which MQTT reserves for broker topics.", what);
        foreach (var c in value)
        {
            if (c is '/' or '+' or '#')
                throw new ArgumentException($"The {what} '{value}' contains '{c}', which is an MQTT topic separator or wildcard; use letters, digits, '-', '_' or '.'.", what);
            if (char.IsControl(c))
                throw new ArgumentException($"The {what} '{value}' contains control character U+{(int)c:X4}.", what);
        }
        return value;
    }

    /// <summary>True when <paramref name="value"/> passes <see cref="Id"/>.</summary>
    public static bool IsValidId(string? value)
    {
        if (value is null) return false;
        try
        {
            Id(value);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Parses a concrete (wildcard-free) fleet topic; null when it is not one of ours.</summary>
    public static FleetTopic? TryParse(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var p = topic.Split('/');
        if (p.Length < 4 || p[0] != Root || !IsValidId(p[1])) return null;
        var fleet = p[1];
        if (p[2] == "device" && p.Length == 5 && IsValidId(p[3]))
        {
            FleetTopicKind? kind = p[4] switch
            {
                "status" => FleetTopicKind.DeviceStatus,
                "telemetry" => FleetTopicKind.DeviceTelemetry,
                "delta" => FleetTopicKind.DeviceDelta,
                "cmd" => FleetTopicKind.DeviceCommand,
                "samples" => FleetTopicKind.DeviceSamples,
                "reply" => FleetTopicKind.DeviceReply,
                _ => null,
            };
            return kind is null ? null : new FleetTopic(kind.Value, fleet, DeviceId: p[3]);
        }
        if (p[2] == "model" && IsValidId(p[3]))
        {
            if (p.Length == 5 && p[4] == "release") return new FleetTopic(FleetTopicKind.ModelRelease, fleet, ModelName: p[3]);
            if (p.Length == 5 && p[4] == "clusters") return new FleetTopic(FleetTopicKind.ModelClusters, fleet, ModelName: p[3]);
            if (p.Length == 7 && p[5] == "chunk"
                && ContinualLearning.Bundle.SemanticVersion.TryParse(p[4], out _)
                && int.TryParse(p[6], System.Globalization.NumberStyles.None, null, out var index))
                return new FleetTopic(FleetTopicKind.ModelChunk, fleet, ModelName: p[3], Version: p[4], ChunkIndex: index);
        }
        return null;
    }

    // Versions in topics are the manifest's semantic versions ("1.4.0"), which never contain '/', '+' or '#'.
    private static string Version(string version) =>
        ContinualLearning.Bundle.SemanticVersion.TryParse(version, out _, out var error)
            ? version
            : throw new ArgumentException($"Version '{version}' is not a semantic version: {error}", nameof(version));

    private static string Device(string fleet, string deviceId, string suffix) =>
        $"{Root}/{Id(fleet, nameof(fleet))}/device/{Id(deviceId, nameof(deviceId))}/{suffix}";

    private static string DeviceSuffix(FleetTopicKind kind) => kind switch
    {
        FleetTopicKind.DeviceStatus => "status",
        FleetTopicKind.DeviceTelemetry => "telemetry",
        FleetTopicKind.DeviceDelta => "delta",
        FleetTopicKind.DeviceCommand => "cmd",
        FleetTopicKind.DeviceSamples => "samples",
        FleetTopicKind.DeviceReply => "reply",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a device topic kind."),
    };
}
