using System.Globalization;
using System.Text;
using ContinualLearning.IO;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The ids of the commands this device executed, with their expiry, kept in a small file in the data directory so a
/// command runs at most once across restarts: an id is written (atomically, fsync'd) before its command runs, so a
/// kill -9 in the middle of a command does not run it again on redelivery. An id is forgotten once its command expired
/// beyond the clock skew, since a redelivery would then be refused as expired anyway; that keeps the file as small as
/// the number of commands signed in one lifetime window. File format: one <c>{expiresAt unix ms} {id}</c> per line.
/// </summary>
internal sealed class ExecutedCommands
{
    /// <summary>Most unexpired ids kept; a device is not commanded this often within one command lifetime.</summary>
    public const int Capacity = 10_000;

    private readonly string _path;
    private readonly TimeSpan _clockSkew;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, DateTimeOffset> _ids = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <exception cref="InvalidDataException">The file exists but is not in the expected format.</exception>
    public ExecutedCommands(string path, TimeSpan clockSkew, TimeProvider time)
    {
        _path = path;
        _clockSkew = clockSkew;
        _time = time;
        if (!File.Exists(path)) return;
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || !long.TryParse(line.AsSpan(0, space), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
                throw new InvalidDataException($"'{path}' line {lineNumber} is not '<unix ms> <command id>'. Delete the file to start afresh; commands executed in the last command lifetime may then run again if redelivered.");
            _ids[line[(space + 1)..]] = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
    }

    /// <summary>Number of ids remembered.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _ids.Count;
        }
    }

    /// <summary>
    /// Records <paramref name="commandId"/> on disk and returns true the first time; false when it was already
    /// executed (or when <see cref="Capacity"/> unexpired ids are held, so nothing more can be remembered).
    /// </summary>
    public bool TryRecord(string commandId, DateTimeOffset expiresAt)
    {
        lock (_lock)
        {
            if (_ids.ContainsKey(commandId)) return false;
            var forgetBefore = _time.GetUtcNow() - _clockSkew;
            foreach (var old in _ids.Where(kv => kv.Value < forgetBefore).Select(kv => kv.Key).ToArray()) _ids.Remove(old);
            if (_ids.Count >= Capacity) return false;
            _ids[commandId] = expiresAt;
            var text = new StringBuilder();
            foreach (var (id, expires) in _ids)
                text.Append(expires.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)).Append(' ').Append(id).Append('\n');
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            AtomicFile.Write(_path, Encoding.UTF8.GetBytes(text.ToString()));
            return true;
        }
    }
}
