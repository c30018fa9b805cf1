using ContinualLearning.Text;

namespace ContinualLearning.Cli.Commands;

/// <summary>One labelled input for <c>cl holdout embed</c>: where it came from (for errors), its class name and how to read its raw values.</summary>
internal sealed record HoldoutInput(string Source, string Label, Func<float[]> Read);

/// <summary>
/// The labelled WAV clips <c>cl holdout embed --clips</c> reads: a list CSV with a <c>file</c> column (relative to the
/// list's folder) and a <c>label</c> or <c>word</c> column — a folder holding <c>manifest.csv</c>, e.g. a keyword corpus
/// from <c>cl keywords make</c>, is read through that list — or else a folder of folders named by label
/// (<c>DIR/&lt;label&gt;/*.wav</c>), read in ordinal order.
/// </summary>
internal static class HoldoutClips
{
    /// <summary>The list a clip folder may hold (the keyword corpus writes it).</summary>
    public const string ListFile = "manifest.csv";

    private static readonly string[] LabelColumns = ["label", "word"];

    /// <summary>(path, label) of every clip <paramref name="source"/> names.</summary>
    /// <exception cref="CliException">The source is missing, empty or its list malformed (naming the line and what to do).</exception>
    public static IReadOnlyList<(string Path, string Label)> Find(string source)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        if (File.Exists(source)) return ReadList(source);
        if (!Directory.Exists(source))
            throw new CliException($"--clips {DisplayText.Truncate(source)} is neither a clip list (CSV) nor a folder; give a folder of <label>/*.wav folders, a folder with {ListFile}, or a CSV with file and label columns.");
        var list = Path.Combine(source, ListFile);
        return File.Exists(list) ? ReadList(list) : ReadFolders(source);
    }

    private static List<(string, string)> ReadList(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines.Length == 0 ? [] : lines[0].Split(',');
        var file = Array.IndexOf(header, "file");
        var label = LabelColumns.Select(c => Array.IndexOf(header, c)).FirstOrDefault(i => i >= 0, -1);
        if (file < 0 || label < 0)
            throw new CliException($"{path}, line 1: a clip list needs a 'file' column and a 'label' (or 'word') column; the header is '{DisplayText.Truncate(lines.FirstOrDefault() ?? "")}'.");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var clips = new List<(string, string)>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var fields = lines[i].Split(',');
            if (fields.Length != header.Length || fields[file].Length == 0 || fields[label].Length == 0)
                throw new CliException($"{path}, line {i + 1}: expected {header.Length} fields with a file and a label, like the header (no quoted commas).");
            clips.Add((Path.Combine(folder, fields[file]), fields[label]));
        }
        return clips.Count > 0 ? clips : throw new CliException($"{path} lists no clips; add rows of file,label.");
    }

    private static List<(string, string)> ReadFolders(string directory)
    {
        var clips = new List<(string, string)>();
        foreach (var folder in Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
        {
            var label = Path.GetFileName(folder);
            clips.AddRange(Directory.GetFiles(folder)
                .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .Select(f => (f, label)));
        }
        return clips.Count > 0 ? clips
            : throw new CliException($"--clips {DisplayText.Truncate(directory)} has no <label>/*.wav clips and no {ListFile}; put each class's WAV files in a folder named by the class.");
    }
}
