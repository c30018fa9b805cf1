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

    /// <summary>
    /// <paramref name="value"/> itself when it is short and printable; otherwise its first <paramref name="maxChars"/>
    /// characters (control characters as <c>\uXXXX</c>) followed by <c>… (N bytes)</c>, N being its UTF-8 size.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Truncate(string? value, int maxChars = DefaultMaxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChars);
        if (value is null) return null;
        var cut = value.Length > maxChars;
        if (!cut && !HasControl(value)) return value;
        var kept = cut ? value.AsSpan(0, char.IsHighSurrogate(value[maxChars - 1]) ? maxChars - 1 : maxChars) : value.AsSpan();
        var text = new StringBuilder(kept.Length + 32);
        Escape(kept, text);
        if (cut) text.Append("… (").Append(Encoding.UTF8.GetByteCount(value).ToString(CultureInfo.InvariantCulture)).Append(" bytes)");
        return text.ToString();
    }

    /// <summary>
    /// A preview of a raw payload as UTF-8 text (invalid sequences replaced), cut like <see cref="Truncate(string?, int)"/>;
    /// decodes only the bytes it shows, never the whole payload.
    /// </summary>
    public static string Truncate(ReadOnlySpan<byte> utf8, int maxChars = DefaultMaxChars)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChars);
        // A character is at most 4 UTF-8 bytes, so this many bytes hold at least maxChars characters when there are more.
        var head = utf8[..Math.Min(utf8.Length, maxChars * 4)];
        var text = Encoding.UTF8.GetString(head);
        var cut = head.Length < utf8.Length || text.Length > maxChars;
        var kept = text.Length > maxChars ? text.AsSpan(0, char.IsHighSurrogate(text[maxChars - 1]) ? maxChars - 1 : maxChars) : text.AsSpan();
        var result = new StringBuilder(kept.Length + 32);
        Escape(kept, result);
        if (cut) result.Append("… (").Append(utf8.Length.ToString(CultureInfo.InvariantCulture)).Append(" bytes)");
        return result.ToString();
    }

    private static bool HasControl(string value)
    {
        foreach (var c in value)
            if (char.IsControl(c)) return true;
        return false;
    }

    private static void Escape(ReadOnlySpan<char> text, StringBuilder into)
    {
        foreach (var c in text)
        {
            if (char.IsControl(c)) into.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else into.Append(c);
        }
    }
}
