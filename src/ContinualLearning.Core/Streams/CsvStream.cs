using System.Globalization;

namespace ContinualLearning.Streams;

/// <summary>A value in a CSV file that could not be used; names the file, line, column and value.</summary>
internal sealed class CsvDataException(string file, int line, string? column, string? value, string problem)
    : FormatException(Describe(file, line, column, value, problem))
{
    public string File { get; } = file;
    public int Line { get; } = line;
    public string? Column { get; } = column;
    public string? Value { get; } = value;

    private static string Describe(string file, int line, string? column, string? value, string problem) =>
        $"{file}, line {line}" + (column is null ? "" : $", column '{column}'") + (value is null ? "" : $", value '{value}'") + $": {problem}";
}

/// <summary>How <see cref="CsvStream.Load"/> maps columns to features and label.</summary>
public sealed record CsvStreamOptions
{
    /// <summary>Header name of the label column.</summary>
    public string LabelColumn { get; init; } = "class";

    /// <summary>Feature columns in the order wanted; null = every column except the label and <see cref="ExcludeColumns"/>, in file order.</summary>
    public IReadOnlyList<string>? FeatureColumns { get; init; }

    /// <summary>
    /// Columns never used as features when <see cref="FeatureColumns"/> is null. Default: <c>date</c>,
    /// because in time-ordered data sets such as Elec2 it is a time index — a model that learns from
    /// it memorises when, not what, and the value never recurs on a device.
    /// </summary>
    public IReadOnlyList<string> ExcludeColumns { get; init; } = ["date"];

    /// <summary>Class names in index order; null = the distinct label values sorted ordinally (Elec2: DOWN = 0, UP = 1).</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    /// <summary>Field separator.</summary>
    public char Separator { get; init; } = ',';
}

/// <summary>
/// A labelled data set read from a CSV file with a header row, held in memory and replayed in file
/// order (time order for stream data sets). Numbers use the invariant culture ('.' decimal point).
/// Quoted fields containing the separator are not supported: such a file fails with the line number.
/// </summary>
public sealed class CsvStream : IStream
{
    private readonly Sample[] _samples;

    private CsvStream(StreamSchema schema, Sample[] samples, string path)
    {
        Schema = schema;
        _samples = samples;
        Path = path;
    }

    /// <inheritdoc/>
    public StreamSchema Schema { get; }

    /// <summary>The file the samples came from.</summary>
    public string Path { get; }

    /// <summary>Number of rows (samples).</summary>
    public int Count => _samples.Length;

    /// <summary>Sample at row <paramref name="index"/> (0 = first data row).</summary>
    public Sample this[int index] => _samples[index];

    /// <summary>Reads the whole file. Throws <see cref="FileNotFoundException"/> or <see cref="CsvDataException"/> with the place of the problem.</summary>
    public static CsvStream Load(string path, CsvStreamOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new CsvStreamOptions();
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"CSV data file '{path}' does not exist; check the path (relative paths resolve against '{Environment.CurrentDirectory}').", path);
        }
        using var reader = new StreamReader(path);
        return Read(reader, path, options);
    }

    /// <summary>Reads CSV text from a reader; <paramref name="sourceName"/> is used in error messages.</summary>
    public static CsvStream Read(TextReader reader, string sourceName, CsvStreamOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        options ??= new CsvStreamOptions();
        var header = reader.ReadLine();
        if (header is null || header.Trim().Length == 0)
        {
            throw new CsvDataException(sourceName, 1, null, null, "the file is empty; expected a header row naming the columns.");
        }
        var names = Split(header, options.Separator);
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new CsvDataException(sourceName, 1, duplicate.Key, null, "the header names this column more than once.");
        }
        var labelIndex = Array.IndexOf(names, options.LabelColumn);
        if (labelIndex < 0)
        {
            throw new CsvDataException(sourceName, 1, options.LabelColumn, null, $"label column not found in the header ({string.Join(", ", names)}); set LabelColumn.");
        }
        int[] featureIndices;
        if (options.FeatureColumns is { } wanted)
        {
            featureIndices = new int[wanted.Count];
            for (var i = 0; i < wanted.Count; i++)
            {
                featureIndices[i] = Array.IndexOf(names, wanted[i]);
                if (featureIndices[i] < 0)
                {
                    throw new CsvDataException(sourceName, 1, wanted[i], null, $"feature column not found in the header ({string.Join(", ", names)}).");
                }
                if (featureIndices[i] == labelIndex)
                {
                    throw new CsvDataException(sourceName, 1, wanted[i], null, "the label column cannot also be a feature.");
                }
            }
        }
        else
        {
            featureIndices = [.. Enumerable.Range(0, names.Length).Where(i => i != labelIndex && !options.ExcludeColumns.Contains(names[i]))];
        }
        if (featureIndices.Length == 0)
        {
            throw new CsvDataException(sourceName, 1, null, null, "no feature columns left after removing the label and excluded columns.");
        }

        var rows = new List<(float[] X, string Label, int Line)>();
        var lineNo = 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (line.Trim().Length == 0)
            {
                continue; // trailing blank lines are common and harmless
            }
            var fields = Split(line, options.Separator);
            if (fields.Length != names.Length)
            {
                throw new CsvDataException(sourceName, lineNo, null, null, $"expected {names.Length} fields like the header, found {fields.Length}.");
            }
            var x = new float[featureIndices.Length];
            for (var f = 0; f < featureIndices.Length; f++)
            {
                var raw = fields[featureIndices[f]];
                if (!float.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !float.IsFinite(v))
                {
                    throw new CsvDataException(sourceName, lineNo, names[featureIndices[f]], raw, "not a finite number (use '.' as the decimal point; fill or drop missing values).");
                }
                x[f] = v;
            }
            var label = fields[labelIndex];
            if (label.Length == 0)
            {
                throw new CsvDataException(sourceName, lineNo, options.LabelColumn, label, "the label is empty.");
            }
            rows.Add((x, label, lineNo));
        }
        if (rows.Count == 0)
        {
            throw new CsvDataException(sourceName, lineNo, null, null, "the file has a header but no data rows.");
        }

        var classes = options.Classes ?? [.. rows.Select(r => r.Label).Distinct().Order(StringComparer.Ordinal)];
        var classIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < classes.Count; i++)
        {
            classIndex[classes[i]] = i;
        }
        var samples = new Sample[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            if (!classIndex.TryGetValue(rows[i].Label, out var y))
            {
                throw new CsvDataException(sourceName, rows[i].Line, options.LabelColumn, rows[i].Label, $"not one of the configured classes ({string.Join(", ", classes)}).");
            }
            samples[i] = new Sample(rows[i].X, y);
        }
        return new CsvStream(new StreamSchema([.. featureIndices.Select(i => names[i])], [.. classes]), samples, sourceName);
    }

    /// <inheritdoc/>
    public IEnumerator<Sample> GetEnumerator() => ((IEnumerable<Sample>)_samples).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    private static string[] Split(string line, char separator)
    {
        var parts = line.Split(separator);
        for (var i = 0; i < parts.Length; i++)
        {
            var p = parts[i].Trim();
            if (p.Length >= 2 && p[0] == '"' && p[^1] == '"')
            {
                p = p[1..^1];
            }
            parts[i] = p;
        }
        return parts;
    }
}
