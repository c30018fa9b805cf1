using Microsoft.AspNetCore.Builder;

namespace ContinualLearning.Aggregator.Console;

/// <summary>The console page's embedded assets. Stub until the page side provides it (console contract).</summary>
internal static class ConsoleAssets
{
    public static void Map(WebApplication app)
    {
    }
}
