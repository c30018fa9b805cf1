using System.Text.Json;
using System.Text.Json.Serialization;

namespace ContinualLearning.Aggregator.Console;

/// <summary>The console API's JSON settings: camelCase, nulls written, enums as text.</summary>
internal static class ConsoleJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
