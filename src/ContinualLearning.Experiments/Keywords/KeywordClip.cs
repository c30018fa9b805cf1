using System.Globalization;
using System.Text;
using ContinualLearning.Text;

namespace ContinualLearning.Experiments.Keywords;

/// <summary>
/// One clip of a keyword corpus, as a row of <c>manifest.csv</c>.
/// </summary>
/// <param name="File">Path relative to the corpus folder (forward slashes).</param>
/// <param name="Word">The spoken word (the label).</param>
/// <param name="Accent">The espeak-ng voice: the voice family scenarios split by.</param>
/// <param name="Variant">The espeak-ng voice variant (m1…m7, f1…f5).</param>
/// <param name="Take">Index of the take for this word, accent and variant.</param>
/// <param name="Speed">espeak-ng speed (<c>-s</c>).</param>
/// <param name="Pitch">espeak-ng pitch (<c>-p</c>).</param>
/// <param name="GainDb">Peak level of the clean clip in dBFS.</param>
/// <param name="Offset">First sample of the word inside the clip.</param>
/// <param name="Length">Samples of the word (silence trimmed) inside the clip.</param>
/// <param name="Noise">Background noise; <see cref="NoiseKind.None"/> for a clean clip.</param>
/// <param name="SnrDb">SNR of the noise over the word; null for a clean clip.</param>
public sealed record KeywordClip(
    string File, string Word, string Accent, string Variant, int Take, int Speed, int Pitch, double GainDb,
    int Offset, int Length, NoiseKind Noise, double? SnrDb)
{
    /// <summary>The manifest's header row.</summary>
    public const string Header = "file,word,accent,variant,take,speed,pitch,gain_db,offset,length,noise,snr_db";

    /// <summary>True for a clip without background noise.</summary>
    public bool IsClean => Noise == NoiseKind.None;

    /// <summary>This clip as a manifest row (invariant culture; no field can hold a comma).</summary>
    public string ToCsv() => string.Join(',',
        File, Word, Accent, Variant, Take.ToString(CultureInfo.InvariantCulture), Speed.ToString(CultureInfo.InvariantCulture),
        Pitch.ToString(CultureInfo.InvariantCulture), GainDb.ToString("0.00", CultureInfo.InvariantCulture),
        Offset.ToString(CultureInfo.InvariantCulture), Length.ToString(CultureInfo.InvariantCulture),
        Noise.ToString().ToLowerInvariant(), SnrDb?.ToString("0.##", CultureInfo.InvariantCulture) ?? "");

    /// <summary>Parses a manifest row; throws <see cref="FormatException"/> naming the line and what was wrong.</summary>
    public static KeywordClip Parse(string line, int lineNumber)
    {
        ArgumentNullException.ThrowIfNull(line);
        var f = line.Split(',');
        if (f.Length != 12)
            throw new FormatException($"manifest.csv line {lineNumber} has {f.Length} fields, expected 12 ({Header}). Regenerate the corpus with `cl keywords make`.");
        int Int(int i) => int.TryParse(f[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new FormatException($"manifest.csv line {lineNumber}, field {i + 1}: '{DisplayText.Truncate(f[i], 40)}' is not an integer.");
        double Real(int i) => double.TryParse(f[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new FormatException($"manifest.csv line {lineNumber}, field {i + 1}: '{DisplayText.Truncate(f[i], 40)}' is not a number.");
        var noise = Enum.TryParse<NoiseKind>(f[10], ignoreCase: true, out var n) ? n
            : throw new FormatException($"manifest.csv line {lineNumber}: noise '{DisplayText.Truncate(f[10], 40)}' is not one of none, white, pink, brown.");
        return new KeywordClip(f[0], f[1], f[2], f[3], Int(4), Int(5), Int(6), Real(7), Int(8), Int(9), noise, f[11].Length == 0 ? null : Real(11));
    }

    /// <summary>Writes <paramref name="clips"/> as <c>manifest.csv</c> text.</summary>
    public static string ToCsv(IEnumerable<KeywordClip> clips)
    {
        ArgumentNullException.ThrowIfNull(clips);
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var c in clips) sb.Append(c.ToCsv()).Append('\n');
        return sb.ToString();
    }

    /// <summary>Parses <c>manifest.csv</c> text.</summary>
    public static IReadOnlyList<KeywordClip> ParseCsv(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0 || lines[0].TrimEnd('\r') != Header)
            throw new FormatException($"manifest.csv does not start with the header '{Header}'. Regenerate the corpus with `cl keywords make`.");
        var clips = new KeywordClip[lines.Length - 1];
        for (var i = 1; i < lines.Length; i++) clips[i - 1] = Parse(lines[i].TrimEnd('\r'), i + 1);
        return clips;
    }
}
