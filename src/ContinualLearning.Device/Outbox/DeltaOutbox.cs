using System.Globalization;
using ContinualLearning.IO;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.Device.Outbox;

/// <summary>One queued item: its sequence number and encoded payload.</summary>
public sealed record OutboxItem(long Sequence, byte[] Payload);

/// <summary>
/// A bounded on-disk FIFO of encoded deltas waiting for the broker's PUBACK. Each item is one file
/// <c>{sequence:D16}.delta</c> written with <see cref="AtomicFile"/>, so a crash or power cut leaves either the whole
/// delta or nothing. Items are removed only after the broker acknowledged them; a resend after a restart carries the
/// same bytes (and so the same delta id), which the aggregator deduplicates. When the bounds are exceeded the oldest
/// items are dropped (a stale delta is worth less than a fresh one) with a warning and <see cref="DroppedCount"/>.
/// Thread safe.
/// </summary>
public sealed partial class DeltaOutbox
{
    private const string Extension = ".delta";
    private readonly string _directory;
    private readonly int _maxItems;
    private readonly long _maxBytes;
    private readonly ILogger _logger;
    private readonly SortedDictionary<long, long> _sizes = [];
    private readonly Lock _lock = new();
    private long _nextSequence;
    private long _bytes;
    private long _dropped;

    /// <summary>Opens (or creates) the outbox directory and picks up whatever a previous run left in it.</summary>
    public DeltaOutbox(string directory, int maxItems = 256, long maxBytes = 64L * 1024 * 1024, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxItems);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        _directory = directory;
        _maxItems = maxItems;
        _maxBytes = maxBytes;
        _logger = logger ?? NullLogger.Instance;
        Directory.CreateDirectory(directory);
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(file);
            if (name.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal))
            {
                // An interrupted write: the item was never acknowledged to the caller, so it is not lost work.
                File.Delete(file);
                continue;
            }
            if (!name.EndsWith(Extension, StringComparison.Ordinal)
                || !long.TryParse(name[..^Extension.Length], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
                continue;
            var size = new FileInfo(file).Length;
            _sizes[sequence] = size;
            _bytes += size;
            _nextSequence = Math.Max(_nextSequence, sequence + 1);
        }
    }

    /// <summary>Raised (outside the lock) after an item was added.</summary>
    public event Action? ItemAdded;

    /// <summary>Items waiting to be acknowledged.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _sizes.Count;
        }
    }

    /// <summary>Bytes of the waiting items.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock) return _bytes;
        }
    }

    /// <summary>Items dropped because the outbox was full (since this instance opened).</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <summary>Appends a payload durably and returns its sequence number; drops the oldest items beyond the bounds.</summary>
    public long Enqueue(byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (payload.Length > _maxBytes)
            throw new ArgumentException($"A delta of {payload.Length} bytes exceeds the outbox limit of {_maxBytes} bytes (config key delta:outboxMaxBytes); raise the limit or lower delta:topKFraction.", nameof(payload));
        long sequence;
        lock (_lock)
        {
            sequence = _nextSequence++;
            AtomicFile.Write(PathOf(sequence), payload);
            _sizes[sequence] = payload.Length;
            _bytes += payload.Length;
            while (_sizes.Count > _maxItems || _bytes > _maxBytes)
            {
                var oldest = _sizes.First();
                DeleteFile(oldest.Key);
                _sizes.Remove(oldest.Key);
                _bytes -= oldest.Value;
                Interlocked.Increment(ref _dropped);
                LogDropped(_logger, _sizes.Count, _bytes, _maxItems, _maxBytes, oldest.Key);
            }
        }
        ItemAdded?.Invoke();
        return sequence;
    }

    /// <summary>The oldest waiting item, or null when empty. Does not remove it.</summary>
    public OutboxItem? Peek()
    {
        lock (_lock)
        {
            while (_sizes.Count > 0)
            {
                var sequence = _sizes.First().Key;
                try
                {
                    return new OutboxItem(sequence, File.ReadAllBytes(PathOf(sequence)));
                }
                catch (FileNotFoundException)
                {
                    // Deleted behind our back (an operator clearing the directory): forget it.
                    _bytes -= _sizes[sequence];
                    _sizes.Remove(sequence);
                }
            }
            return null;
        }
    }

    /// <summary>Removes an item after the broker acknowledged it. Unknown sequences are ignored (already removed or dropped).</summary>
    public void Remove(long sequence)
    {
        lock (_lock)
        {
            if (!_sizes.Remove(sequence, out var size)) return;
            _bytes -= size;
            DeleteFile(sequence);
        }
    }

    private void DeleteFile(long sequence)
    {
        try
        {
            File.Delete(PathOf(sequence));
        }
        catch (IOException ex)
        {
            LogDeleteFailed(_logger, ex, PathOf(sequence));
        }
    }

    private string PathOf(long sequence) => Path.Combine(_directory, sequence.ToString("D16", CultureInfo.InvariantCulture) + Extension);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delta outbox full ({Count} items, {Bytes} bytes; limits {MaxItems} items, {MaxBytes} bytes): dropped the oldest delta #{Sequence} unsent. The broker has been unreachable for long; check the connection or raise delta:outboxMaxFiles/outboxMaxBytes.")]
    private static partial void LogDropped(ILogger logger, int count, long bytes, int maxItems, long maxBytes, long sequence);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete outbox file {Path}")]
    private static partial void LogDeleteFailed(ILogger logger, Exception exception, string path);
}
