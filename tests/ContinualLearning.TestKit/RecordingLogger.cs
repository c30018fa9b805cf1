using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.TestKit;

/// <summary>A logger that keeps every entry (level, rendered message, exception) for a test to assert on.</summary>
public sealed class RecordingLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> _entries = new();

    public IReadOnlyList<(LogLevel Level, string Message, Exception? Exception)> Entries => _entries.ToArray();

    /// <summary>Every entry as one text: level, message and the exception's type and message (with inner exceptions).</summary>
    public string Text => string.Join("\n", Entries.Select(e => $"{e.Level}: {e.Message}{(e.Exception is null ? "" : " | " + e.Exception)}"));

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        _entries.Enqueue((logLevel, formatter(state, exception), exception));
    }
}
