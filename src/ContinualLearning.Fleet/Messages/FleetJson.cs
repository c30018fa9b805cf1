using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace ContinualLearning.Fleet.Messages;

/// <summary>A fleet message could not be read: bad JSON, a missing field, or a schema version this build does not know.</summary>
public sealed class FleetMessageException : Exception
{
    /// <summary>Creates the exception with the default message.</summary>
    public FleetMessageException()
    {
    }

    /// <summary>Creates the exception with a message saying what could not be read.</summary>
    public FleetMessageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message saying what could not be read, and the parse error.</summary>
    public FleetMessageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Source-generated camelCase JSON for the fleet messages (trimming- and AOT-safe; no reflection on devices).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    // "deviceId": null satisfies `required` on its own; this makes a null in a non-nullable property a JsonException
    // (so a FleetMessageException) instead of a message whose DeviceId is null (found by the fleetjson fuzz target).
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(DeviceStatus))]
[JsonSerializable(typeof(Telemetry))]
[JsonSerializable(typeof(Command))]
[JsonSerializable(typeof(CommandReply))]
[JsonSerializable(typeof(Release))]
[JsonSerializable(typeof(ClusterDirectory))]
public sealed partial class FleetJsonContext : JsonSerializerContext;

/// <summary>
/// Serialise and parse fleet messages, enforcing the "v" schema version. Every Read method throws
/// <see cref="FleetMessageException"/> for bad JSON, a missing required field or a newer schema version.
/// </summary>
public static class FleetJson
{
    /// <summary>Serialises a device status as UTF-8 JSON.</summary>
    public static byte[] Serialize(DeviceStatus message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.DeviceStatus);

    /// <summary>Serialises telemetry as UTF-8 JSON.</summary>
    public static byte[] Serialize(Telemetry message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.Telemetry);

    /// <summary>Serialises a command as UTF-8 JSON.</summary>
    public static byte[] Serialize(Command message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.Command);

    /// <summary>Serialises a command reply as UTF-8 JSON.</summary>
    public static byte[] Serialize(CommandReply message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.CommandReply);

    /// <summary>Serialises a release as UTF-8 JSON.</summary>
    public static byte[] Serialize(Release message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.Release);

    /// <summary>Serialises a cluster directory as UTF-8 JSON.</summary>
    public static byte[] Serialize(ClusterDirectory message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.ClusterDirectory);

    /// <summary>Parses a device status.</summary>
    public static DeviceStatus ReadStatus(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.DeviceStatus, DeviceStatus.CurrentVersion);

    /// <summary>Parses telemetry.</summary>
    public static Telemetry ReadTelemetry(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.Telemetry, Telemetry.CurrentVersion);

    /// <summary>Parses a command.</summary>
    public static Command ReadCommand(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.Command, Command.CurrentVersion);

    /// <summary>Parses a command reply.</summary>
    public static CommandReply ReadCommandReply(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.CommandReply, CommandReply.CurrentVersion);

    /// <summary>Parses a release.</summary>
    public static Release ReadRelease(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.Release, Release.CurrentVersion);

    /// <summary>Parses a cluster directory.</summary>
    public static ClusterDirectory ReadClusterDirectory(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.ClusterDirectory, ClusterDirectory.CurrentVersion);

    private static T Read<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> info, int supportedVersion)
        where T : IFleetMessage
    {
        T? message;
        try
        {
            message = JsonSerializer.Deserialize(json, info);
        }
        catch (JsonException ex)
        {
            throw new FleetMessageException($"Invalid {typeof(T).Name} JSON ({ex.Message}). Payload starts: {Preview(json)}", ex);
        }
        if (message is null)
            throw new FleetMessageException($"Empty {typeof(T).Name}: the payload was JSON null.");
        // Older versions are readable by design (fields only get added); newer ones may mean something we would misread.
        if (message.V < 1 || message.V > supportedVersion)
            throw new FleetMessageException($"{typeof(T).Name} schema version v={message.V} is not supported (this build reads 1..{supportedVersion}); upgrade this component.");
        return message;
    }

    private static string Preview(ReadOnlySpan<byte> json)
    {
        var s = System.Text.Encoding.UTF8.GetString(json[..Math.Min(json.Length, 80)]);
        return json.Length > 80 ? s + "…" : s;
    }
}
