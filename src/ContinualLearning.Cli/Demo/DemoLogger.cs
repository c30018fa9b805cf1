using Microsoft.Extensions.Logging;

namespace ContinualLearning.Cli.Demo;

/// <summary>Forwards a component's log (information and above) into the demo's event log, prefixed with its name.</summary>
internal sealed class DemoLogger<T>(DemoState state, string prefix) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState scopeState)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState logState, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var marker = logLevel >= LogLevel.Warning ? "⚠ " : "";
        state.Event($"{prefix}: {marker}{formatter(logState, exception)}");
    }
}
