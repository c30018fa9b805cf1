using System.Globalization;

namespace ContinualLearning.Bundle;

/// <summary>
/// A Semantic Versioning 2.0.0 version (<c>MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]</c>), compared by SemVer precedence
/// (build metadata ignored, a pre-release sorts before its release). Model versions use it so the registry and
/// devices agree on "newer".
/// </summary>
public sealed class SemanticVersion : IComparable<SemanticVersion>, IEquatable<SemanticVersion>
{
    private readonly string[] _preRelease;

    private SemanticVersion(long major, long minor, long patch, string[] preRelease, string? build, string text)
    {
        Major = major;
        Minor = minor;
        Patch = patch;
        _preRelease = preRelease;
        Build = build;
        Text = text;
    }

    /// <summary>The MAJOR number.</summary>
    public long Major { get; }
    /// <summary>The MINOR number.</summary>
    public long Minor { get; }
    /// <summary>The PATCH number.</summary>
    public long Patch { get; }

    /// <summary>Dot-separated pre-release identifiers ("rc.1"), or null for a release.</summary>
    public string? PreRelease => _preRelease.Length == 0 ? null : string.Join('.', _preRelease);

    /// <summary>Build metadata after '+', or null. Ignored for precedence.</summary>
    public string? Build { get; }

    private string Text { get; }

    /// <summary>Parses a version or throws <see cref="FormatException"/> saying which part is wrong.</summary>
    public static SemanticVersion Parse(string text) =>
        TryParse(text, out var version, out var error) ? version : throw new FormatException(error);

    /// <summary>Parses a version; false when the text is not a semantic version.</summary>
    public static bool TryParse(string? text, out SemanticVersion version) => TryParse(text, out version, out _);

    /// <summary>Parses a version; on failure <paramref name="error"/> explains what is wrong.</summary>
    public static bool TryParse(string? text, out SemanticVersion version, out string error)
    {
        version = null!;
        if (string.IsNullOrEmpty(text))
        {
            error = "version is empty; expected MAJOR.MINOR.PATCH, e.g. 1.0.0.";
            return false;
        }
        var rest = text;
        string? build = null;
        var plus = rest.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
        {
            build = rest[(plus + 1)..];
            rest = rest[..plus];
            if (!Identifiers(build, numericNoLeadingZero: false))
            {
                error = $"'{text}': build metadata '{build}' must be dot-separated non-empty [0-9A-Za-z-] identifiers.";
                return false;
            }
        }
        string[] pre = [];
        var dash = rest.IndexOf('-', StringComparison.Ordinal);
        if (dash >= 0)
        {
            var preText = rest[(dash + 1)..];
            rest = rest[..dash];
            if (!Identifiers(preText, numericNoLeadingZero: true))
            {
                error = $"'{text}': pre-release '{preText}' must be dot-separated non-empty [0-9A-Za-z-] identifiers, numeric ones without leading zeros.";
                return false;
            }
            pre = preText.Split('.');
        }
        var core = rest.Split('.');
        if (core.Length != 3)
        {
            error = $"'{text}' is not MAJOR.MINOR.PATCH[-PRERELEASE]; e.g. 1.4.0 or 2.0.0-rc.1.";
            return false;
        }
        var numbers = new long[3];
        for (var i = 0; i < 3; i++)
        {
            if (!IsNumeric(core[i]) || (core[i].Length > 1 && core[i][0] == '0')
                || !long.TryParse(core[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                error = $"'{text}': {(i == 0 ? "major" : i == 1 ? "minor" : "patch")} part '{core[i]}' must be a non-negative integer without leading zeros.";
                return false;
            }
        }
        version = new SemanticVersion(numbers[0], numbers[1], numbers[2], pre, build, text);
        error = "";
        return true;
    }

    /// <summary>Semantic Versioning 2.0 precedence: numbers, then a release above its pre-releases, then pre-release identifiers; build metadata is ignored.</summary>
    public int CompareTo(SemanticVersion? other)
    {
        if (other is null) return 1;
        var c = Major.CompareTo(other.Major);
        if (c == 0) c = Minor.CompareTo(other.Minor);
        if (c == 0) c = Patch.CompareTo(other.Patch);
        if (c != 0) return c;
        // A release outranks any of its pre-releases.
        if (_preRelease.Length == 0 || other._preRelease.Length == 0)
            return (_preRelease.Length == 0 ? 1 : 0) - (other._preRelease.Length == 0 ? 1 : 0);
        for (var i = 0; i < Math.Min(_preRelease.Length, other._preRelease.Length); i++)
        {
            c = ComparePreReleaseIdentifier(_preRelease[i], other._preRelease[i]);
            if (c != 0) return c;
        }
        return _preRelease.Length.CompareTo(other._preRelease.Length);
    }

    /// <summary>Equal precedence (build metadata is ignored).</summary>
    public bool Equals(SemanticVersion? other) => CompareTo(other) == 0;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SemanticVersion v && Equals(v);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Major, Minor, Patch, PreRelease);

    /// <summary>The text the version was parsed from.</summary>
    public override string ToString() => Text;

    /// <summary>Equal precedence.</summary>
    public static bool operator ==(SemanticVersion? a, SemanticVersion? b) => a is null ? b is null : a.Equals(b);
    /// <summary>Different precedence.</summary>
    public static bool operator !=(SemanticVersion? a, SemanticVersion? b) => !(a == b);
    /// <summary>Lower precedence; null is lowest.</summary>
    public static bool operator <(SemanticVersion? a, SemanticVersion? b) => a is null ? b is not null : a.CompareTo(b) < 0;
    /// <summary>Higher precedence; null is lowest.</summary>
    public static bool operator >(SemanticVersion? a, SemanticVersion? b) => b < a;
    /// <summary>Lower or equal precedence; null is lowest.</summary>
    public static bool operator <=(SemanticVersion? a, SemanticVersion? b) => !(b < a);
    /// <summary>Higher or equal precedence; null is lowest.</summary>
    public static bool operator >=(SemanticVersion? a, SemanticVersion? b) => !(a < b);

    private static int ComparePreReleaseIdentifier(string a, string b)
    {
        var aNum = IsNumeric(a);
        var bNum = IsNumeric(b);
        if (aNum && bNum)
            return a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);
        if (aNum) return -1; // numeric identifiers have lower precedence than alphanumeric ones
        if (bNum) return 1;
        return Math.Sign(string.CompareOrdinal(a, b));
    }

    private static bool Identifiers(string text, bool numericNoLeadingZero)
    {
        foreach (var id in text.Split('.'))
        {
            if (id.Length == 0) return false;
            foreach (var c in id)
                if (!(char.IsAsciiLetterOrDigit(c) || c == '-')) return false;
            if (numericNoLeadingZero && IsNumeric(id) && id.Length > 1 && id[0] == '0') return false;
        }
        return true;
    }

    private static bool IsNumeric(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);
}
