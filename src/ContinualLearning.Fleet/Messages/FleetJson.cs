using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace ContinualLearning.Fleet.Messages;

/// <summary>A fleet message could not be read: bad JSON, a missing field, or a schema version this build does not know.</summary>
public sealed class FleetMessageException : Exception
{
    public FleetMessageException()
    {
    }

    public FleetMessageException(string message)
        : base(message)
    {
    }

    public FleetMessageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Source-generated camelCase JSON for the fleet messages (trimming- and AOT-safe; no reflection on devices).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(DeviceStatus))]
[JsonSerializable(typeof(Telemetry))]
[JsonSerializable(typeof(Command))]
[JsonSerializable(typeof(CommandReply))]
[JsonSerializable(typeof(Release))]
public sealed partial class FleetJsonContext : JsonSerializerContext;

/// <summary>Serialise and parse fleet messages, enforcing the "v" schema version.</summary>
public static class FleetJson
{
    public static byte[] Serialize(DeviceStatus message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.DeviceStatus);

    public static byte[] Serialize(Telemetry message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.Telemetry);

    public static byte[] Serialize(Command message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.Command);

    public static byte[] Serialize(CommandReply message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.CommandReply);

    public static byte[] Serialize(Release message) => JsonSerializer.SerializeToUtf8Bytes(message, FleetJsonContext.Default.Release);

    public static DeviceStatus ReadStatus(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.DeviceStatus, DeviceStatus.CurrentVersion);

    public static Telemetry ReadTelemetry(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.Telemetry, Telemetry.CurrentVersion);

    public static Command ReadCommand(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.Command, Command.CurrentVersion);

    public static CommandReply ReadCommandReply(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.CommandReply, CommandReply.CurrentVersion);

    public static Release ReadRelease(ReadOnlySpan<byte> json) => Read(json, FleetJsonContext.Default.Release, Release.CurrentVersion);

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
