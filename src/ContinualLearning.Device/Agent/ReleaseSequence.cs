using System.Globalization;
using System.Text;
using ContinualLearning.IO;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The sequence of the last release this device accepted, kept in the data directory (<c>{model} {sequence}</c>,
/// replaced atomically) so that a replayed older release is refused after a restart too.
/// </summary>
internal sealed class ReleaseSequence
{
    private readonly string _path;
    private readonly string _model;
    private long _last;

    /// <exception cref="InvalidDataException">The file exists but is not in the expected format.</exception>
    public ReleaseSequence(string path, string model)
    {
        _path = path;
        _model = model;
        if (!File.Exists(path)) return;
        var parts = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var last))
            throw new InvalidDataException($"'{path}' is not '<model> <release sequence>'. Delete it to accept the fleet's current release again (an older release replayed once could then be installed).");
        // Another model's sequence says nothing about this one's releases.
        if (parts[0] == model) _last = last;
    }

    /// <summary>The last sequence accepted; 0 before any.</summary>
    public long Last => Interlocked.Read(ref _last);

    /// <summary>Records <paramref name="sequence"/> when it is above <see cref="Last"/>.</summary>
    public void Accept(long sequence)
    {
        lock (_path)
        {
            if (sequence <= _last) return;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            AtomicFile.Write(_path, Encoding.UTF8.GetBytes($"{_model} {sequence.ToString(CultureInfo.InvariantCulture)}\n"));
            Interlocked.Exchange(ref _last, sequence);
        }
    }
}
