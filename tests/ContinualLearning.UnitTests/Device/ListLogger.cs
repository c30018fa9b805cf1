using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.UnitTests.Device;

/// <summary>A logger that keeps every formatted line (with its exception message), to measure what a flood costs in log.</summary>
internal sealed class ListLogger : ILogger, ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>Bytes of log written so far (UTF-8).</summary>
    public long Bytes => Lines.Sum(l => (long)System.Text.Encoding.UTF8.GetByteCount(l));

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        Lines.Enqueue(exception is null ? formatter(state, exception) : $"{formatter(state, exception)} {exception.Message}");
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void Dispose()
    {
    }
}
