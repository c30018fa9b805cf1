using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace ContinualLearning.Text;

/// <summary>
/// Makes a value that came from outside (a payload, a field name, a label, a topic) safe to put in a log line or an
/// error body: at most a fixed number of characters, control characters escaped (no forged log lines), and the full
/// size said so nothing is hidden. Every attacker-controlled value the services log or echo goes through here, so a
/// 2 MB bad value costs a few hundred bytes of log, not 2 MB (one flood message would otherwise be amplified into the
/// journal on flash).
/// </summary>
public static class DisplayText
{
    /// <summary>Characters kept by default: enough to recognise a value, too few to carry a payload.</summary>
    public const int DefaultMaxChars = 120;

    /// <summary>Characters kept of a whole error message (which may quote several values).</summary>
    public const int MessageMaxChars = 600;

    /// <summary>The longest suffix <see cref="Truncate(string?, int)"/> adds: <c>… (</c>, a 64-bit count, <c> bytes)</c>.</summary>
    public const int SuffixMaxChars = 3 + 19 + 7;

    /// <summary>
    /// <paramref name="value"/> itself when it is short and printable; otherwise at most <paramref name="maxChars"/>
    /// characters of it (control characters written as <c>\uXXXX</c>, which counts towards the limit) followed, when
    /// something was left out, by <c>… (N bytes)</c>, N being its UTF-8 size. The result is at most
    /// <paramref name="maxChars"/> + <see cref="SuffixMaxChars"/> characters.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Truncate(string? value, int maxChars = DefaultMaxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChars);
        if (value is null) return null;
        if (value.Length <= maxChars && !HasControl(value)) return value;
        var text = new StringBuilder(maxChars + SuffixMaxChars);
        if (!Append(value, maxChars, text)) AppendSize(text, Encoding.UTF8.GetByteCount(value));
        return text.ToString();
    }

    /// <summary>
    /// A preview of a raw payload as UTF-8 text (invalid sequences replaced), cut like <see cref="Truncate(string?, int)"/>;
    /// decodes only the bytes it shows, never the whole payload.
    /// </summary>
    public static string TruncateUtf8(ReadOnlySpan<byte> utf8, int maxChars = DefaultMaxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChars);
        // A character is at most 4 UTF-8 bytes, so this many bytes hold every character that can be shown.
        var head = utf8[..Math.Min(utf8.Length, maxChars * 4)];
        var text = new StringBuilder(maxChars + SuffixMaxChars);
        if (!Append(Encoding.UTF8.GetString(head), maxChars, text) || head.Length < utf8.Length) AppendSize(text, utf8.Length);
        return text.ToString();
    }

    private static bool HasControl(string value)
    {
        foreach (var c in value)
            if (char.IsControl(c)) return true;
        return false;
    }

    // Appends `source` (control characters escaped) while the output stays within `maxChars`, never splitting a
    // surrogate pair; false when it stopped before the end.
    private static bool Append(ReadOnlySpan<char> source, int maxChars, StringBuilder into)
    {
        for (var i = 0; i < source.Length; i++)
        {
            var c = source[i];
            var pair = char.IsHighSurrogate(c) && i + 1 < source.Length && char.IsLowSurrogate(source[i + 1]);
            var width = char.IsControl(c) ? 6 : pair ? 2 : 1;
            if (into.Length + width > maxChars) return false;
            if (char.IsControl(c))
            {
                into.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else if (pair)
            {
                into.Append(c).Append(source[i + 1]);
                i++;
            }
            else
            {
                into.Append(c);
            }
        }
        return true;
    }

    private static void AppendSize(StringBuilder into, long bytes) =>
        into.Append("… (").Append(bytes.ToString(CultureInfo.InvariantCulture)).Append(" bytes)");
}
