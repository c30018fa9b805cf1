using System.Globalization;
using ContinualLearning.Bundle;
using ContinualLearning.Streams;
using ContinualLearning.Text;

namespace ContinualLearning.Aggregator.Holdout;

/// <summary>
/// A holdout set of head inputs (<c>cl holdout embed</c> writes it, the gate reads it). Line 1 records what made it:
/// <c># cl-holdout-embeddings v1 model=kw version=1.0.0 size=192 pipeline=&lt;sha256&gt;</c>
/// (<see cref="HoldoutPipeline.Fingerprint"/>); line 2 names the columns <c>e0 … e{size−1}</c> and the label column; each
/// further line is one clip's embedding (invariant culture, round-trip floats) and its class name. The gate refuses a
/// file made by another pipeline or for another head width instead of scoring embeddings the release would never see.
/// </summary>
internal static class HoldoutEmbeddingsCsv
{
    /// <summary>How line 1 starts.</summary>
    public const string Marker = "# cl-holdout-embeddings";

    private const string FormatVersion = "v1";

    /// <summary>The name of head input <paramref name="index"/>'s column.</summary>
    public static string Column(int index) => "e" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>True when the file at <paramref name="path"/> starts with <see cref="Marker"/>.</summary>
    public static bool IsEmbeddings(string path)
    {
        using var reader = new StreamReader(path);
        return reader.ReadLine()?.StartsWith(Marker, StringComparison.Ordinal) == true;
    }

    /// <summary>Writes lines 1 and 2 for <paramref name="manifest"/>'s pipeline (a model with one; see <see cref="HoldoutPipeline.HasPipeline"/>).</summary>
    public static void WriteHeader(TextWriter writer, ModelManifest manifest, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(manifest);
        CheckField(labelColumn, "label column");
        var pipeline = HoldoutPipeline.Fingerprint(manifest)
            ?? throw new ArgumentException($"Model {manifest.Name} {manifest.Version} takes {HoldoutPipeline.DescribeInput(manifest)}: its holdout CSV is its features, not embeddings.", nameof(manifest));
        var size = manifest.Head.InputSize;
        writer.Write(string.Create(CultureInfo.InvariantCulture, $"{Marker} {FormatVersion} model={manifest.Name} version={manifest.Version} size={size} pipeline={pipeline}\n"));
        for (var i = 0; i < size; i++) writer.Write(Column(i) + ",");
        writer.Write(labelColumn + "\n");
    }

    /// <summary>Writes one row: the head input and its class name.</summary>
    public static void WriteRow(TextWriter writer, ReadOnlySpan<float> input, string label)
    {
        ArgumentNullException.ThrowIfNull(writer);
        CheckField(label, "label");
        foreach (var v in input)
        {
            if (!float.IsFinite(v)) throw new ArgumentException($"The embedding of a '{label}' clip holds {v}; the pipeline produced a non-finite value.", nameof(input));
            writer.Write(v.ToString("R", CultureInfo.InvariantCulture));
            writer.Write(',');
        }
        writer.Write(label + "\n");
    }

    /// <summary>
    /// Reads the samples (head input, class index in <paramref name="manifest"/>'s labels) of the file at
    /// <paramref name="path"/>, after checking it was made for this manifest's pipeline and head width.
    /// </summary>
    /// <exception cref="InvalidDataException">A malformed line, a wrong column, a non-number, an unknown label: names the line, column and value.</exception>
    /// <exception cref="InvalidOperationException">The file was made by another pipeline, for another head width, or the model has no pipeline.</exception>
    public static IReadOnlyList<Sample> Read(string path, string labelColumn, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        using var reader = new StreamReader(path);
        var made = ReadMarker(path, reader.ReadLine());
        var model = $"model {manifest.Name} {manifest.Version}";
        var madeFor = $"made for {Show(made.GetValueOrDefault("model"))} {Show(made.GetValueOrDefault("version"))}";
        var expected = HoldoutPipeline.Fingerprint(manifest)
            ?? throw new InvalidOperationException($"holdout:csvPath {path} holds embeddings ({madeFor}), but {model} takes {HoldoutPipeline.DescribeInput(manifest)}: its head reads the normalised features. Give a CSV of its feature columns ({string.Join(", ", manifest.InputSchema.Features.Select(f => f.Name))}) and the label column.");
        var size = manifest.Head.InputSize;
        if (made.GetValueOrDefault("size") != size.ToString(CultureInfo.InvariantCulture))
            throw new InvalidOperationException($"holdout:csvPath {path} holds embeddings of width size={Show(made.GetValueOrDefault("size"))} ({madeFor}), but the head of {model} takes {size} inputs; {HoldoutPipeline.EmbedHint(manifest, path)}.");
        if (made.GetValueOrDefault("pipeline") != expected)
            throw new InvalidOperationException($"holdout:csvPath {path} was embedded by pipeline {Show(made.GetValueOrDefault("pipeline"))} ({madeFor}), but {model} embeds with pipeline {expected} (its stages, their settings or their files differ), so its embeddings would not be what devices compute; re-embed the clips: {HoldoutPipeline.EmbedHint(manifest, path)}.");
        var columns = ReadColumns(path, reader.ReadLine(), labelColumn, size, model);
        return ReadRows(path, reader, columns, size, manifest.Task.LabelNames, model);
    }

    private static Dictionary<string, string> ReadMarker(string path, string? line)
    {
        if (line is null || !line.StartsWith(Marker + " ", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}, line 1: expected '{Marker} {FormatVersion} …' (the line `cl holdout embed` writes).");
        var parts = line[(Marker.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || parts[0] != FormatVersion)
            throw new InvalidDataException($"{path}, line 1: format '{Show(parts.FirstOrDefault())}' is not supported; this aggregator reads {FormatVersion}. Re-embed with this release's `cl holdout embed`.");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) values[part[..eq]] = part[(eq + 1)..];
        }
        return values;
    }

    // The index of each head input's column and of the label column.
    private static (int[] Inputs, int Label, int Count) ReadColumns(string path, string? line, string labelColumn, int size, string model)
    {
        var names = (line ?? "").Split(',');
        var want = $"{size + 1} columns: {Column(0)} … {Column(size - 1)} and the label column '{labelColumn}'";
        if (names.Length != size + 1)
            throw new InvalidDataException($"{path}, line 2: the header has {names.Length} columns, but the head of {model} takes {size} inputs: expected {want}. Re-embed the clips with this release (`cl holdout embed`).");
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            if (!index.TryAdd(names[i], i))
                throw new InvalidDataException($"{path}, line 2: column '{Show(names[i])}' appears twice; expected {want}.");
        }
        if (!index.TryGetValue(labelColumn, out var label))
            throw new InvalidDataException($"{path}, line 2: no label column '{Show(labelColumn)}' (holdout:labelColumn); the header is {Show(line)}. Set holdout:labelColumn to the file's label column.");
        var inputs = new int[size];
        for (var i = 0; i < size; i++)
        {
            if (!index.TryGetValue(Column(i), out inputs[i]))
                throw new InvalidDataException($"{path}, line 2: no column '{Column(i)}'; expected {want}.");
        }
        return (inputs, label, names.Length);
    }

    private static Sample[] ReadRows(string path, StreamReader reader, (int[] Inputs, int Label, int Count) columns, int size, IReadOnlyList<string> labels, string model)
    {
        var classes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < labels.Count; i++) classes[labels[i]] = i;
        var samples = new List<Sample>();
        var lineNumber = 2;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var fields = line.Split(',');
            if (fields.Length != columns.Count)
                throw new InvalidDataException($"{path}, line {lineNumber}: {fields.Length} fields, expected {columns.Count} like the header.");
            var x = new float[size];
            for (var i = 0; i < size; i++)
            {
                var raw = fields[columns.Inputs[i]];
                if (!float.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out x[i]) || !float.IsFinite(x[i]))
                    throw new InvalidDataException($"{path}, line {lineNumber}, column {Column(i)}: '{Show(raw)}' is not a finite number.");
            }
            var label = fields[columns.Label];
            if (!classes.TryGetValue(label, out var y))
                throw new InvalidDataException($"{path}, line {lineNumber}: label '{Show(label)}' is not a class of {model} ({string.Join(", ", labels)}); drop those rows, or re-embed with `cl holdout embed --skip-unknown`.");
            samples.Add(new Sample(x, y));
        }
        if (samples.Count == 0) throw new InvalidDataException($"{path} has no rows after its header; embed at least one labelled clip.");
        return [.. samples];
    }

    private static void CheckField(string value, string what)
    {
        if (string.IsNullOrEmpty(value) || value.AsSpan().IndexOfAny(",\"\r\n") >= 0)
            throw new ArgumentException($"The {what} '{Show(value)}' is empty or holds a comma, quote or line break, which the holdout CSV cannot carry; rename it.", nameof(value));
    }

    private static string Show(string? value) => DisplayText.Truncate(value, 80) ?? "(none)";
}
