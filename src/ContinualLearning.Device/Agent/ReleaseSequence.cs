using System.Globalization;
using System.Text;
using ContinualLearning.IO;

namespace ContinualLearning.Device.Agent;

/// <summary>
/// The sequence of the last release this device accepted, per model name, kept in the data directory (one
/// <c>{model} {sequence}</c> line per model, replaced atomically) so that a replayed older release is refused after a
/// restart too. One model without clustering; under concept-aware aggregation also each cluster model it served or
/// scored (at most <see cref="Deltas.ClusterNames.MaxCluster"/> + 1 lines: a retired cluster's line is kept, so an old
/// release of it stays refused if the cluster comes back). The cluster directory's sequence uses the same file format.
/// </summary>
internal sealed class ReleaseSequence
{
    private readonly string _path;
    private readonly string _model;
    private readonly Dictionary<string, long> _last = new(StringComparer.Ordinal);

    /// <exception cref="InvalidDataException">The file exists but is not in the expected format.</exception>
    public ReleaseSequence(string path, string model)
    {
        _path = path;
        _model = model;
        if (!File.Exists(path)) return;
        foreach (var line in File.ReadAllLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var last))
                throw new InvalidDataException($"'{path}' is not '<model> <release sequence>' lines. Delete it to accept the fleet's current release again (an older release replayed once could then be installed).");
            _last[parts[0]] = last;
        }
    }

    /// <summary>The last sequence accepted for the device's model; 0 before any.</summary>
    public long Last => LastOf(_model);

    /// <summary>The last sequence accepted for <paramref name="model"/>; 0 before any (another model's says nothing about it).</summary>
    public long LastOf(string model)
    {
        lock (_last) return _last.GetValueOrDefault(model);
    }

    /// <summary>Records <paramref name="sequence"/> for the device's model when it is above <see cref="Last"/>.</summary>
    public void Accept(long sequence) => Accept(_model, sequence);

    /// <summary>Records <paramref name="sequence"/> for <paramref name="model"/> when it is above the last one accepted for it.</summary>
    public void Accept(string model, long sequence)
    {
        lock (_last)
        {
            if (sequence <= _last.GetValueOrDefault(model)) return;
            var next = new Dictionary<string, long>(_last, StringComparer.Ordinal) { [model] = sequence };
            var text = new StringBuilder();
            foreach (var (name, last) in next.OrderBy(p => p.Key, StringComparer.Ordinal))
                text.Append(CultureInfo.InvariantCulture, $"{name} {last}\n");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
            AtomicFile.Write(_path, Encoding.UTF8.GetBytes(text.ToString()));
            _last[model] = sequence;
        }
    }
}
