using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace ContinualLearning.Fleet.Configuration;

/// <summary>
/// Turns the text values of a bound settings model into typed values, recording every value it cannot read instead
/// of stopping at the first (the configuration binder throws at the first), then runs the options' validator and
/// throws one <see cref="ConfigurationException"/> listing every problem with where it came from.
/// Shared by the device and the aggregator so both read values — booleans, kebab-case enums, durations,
/// host:port — the same way.
/// </summary>
/// <param name="layers">The configuration the values came from (for <see cref="ConfigurationError.Source"/>).</param>
public sealed class ConfigurationReader(LayeredConfiguration layers)
{
    private readonly List<ConfigurationError> _errors = [];

    /// <summary>Values that could not be read so far.</summary>
    public IReadOnlyList<ConfigurationError> Errors => _errors;

    /// <summary>The configuration being read.</summary>
    public LayeredConfiguration Layers => layers;

    /// <summary>Records a problem found while reading.</summary>
    public void Report(ConfigurationError error) => _errors.Add(error);

    /// <summary>Trimmed text; null when unset or blank.</summary>
    public static string? Text(string? raw) => string.IsNullOrWhiteSpace(raw) ? null : raw.Trim();

    /// <summary>true/false, also 1/0, yes/no, on/off (environment variables are often written that way).</summary>
    public bool Bool(string key, string? raw, bool fallback)
    {
        var v = Text(raw);
        if (v is null) return fallback;
        if (bool.TryParse(v, out var b)) return b;
        if (v.ToUpperInvariant() is "1" or "YES" or "ON") return true;
        if (v.ToUpperInvariant() is "0" or "NO" or "OFF") return false;
        Report(new(key, v, "is not a boolean", "use true or false"));
        return fallback;
    }

    /// <summary>A whole number (invariant culture, optional sign).</summary>
    public T WholeNumber<T>(string key, string? raw, T fallback)
        where T : struct, IBinaryInteger<T> =>
        OptionalWholeNumber<T>(key, raw, $"use a whole number (default {fallback})") ?? fallback;

    /// <summary>A whole number; null when unset.</summary>
    public T? OptionalWholeNumber<T>(string key, string? raw, string fix)
        where T : struct, IBinaryInteger<T>
    {
        var v = Text(raw);
        if (v is null) return null;
        if (T.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)) return i;
        Report(new(key, v, "is not an integer", fix));
        return null;
    }

    /// <summary>A finite number with '.' as the decimal point.</summary>
    public double Number(string key, string? raw, double fallback) => OptionalNumber(key, raw, fallback) ?? fallback;

    /// <summary>
    /// A finite number; <paramref name="fallback"/> when unset, null when set to an empty value (JSON <c>null</c>, an
    /// empty environment variable): that is how a check with a nullable bound is turned off.
    /// </summary>
    public double? OptionalNumber(string key, string? raw, double? fallback)
    {
        // A JSON null reaches the binder as no value at all; only the layer still knows the key was there.
        if (raw is null) return layers.SourceOf(key) is null ? fallback : null;
        var v = Text(raw);
        if (v is null) return null;
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
        Report(new(key, v, "is not a number", $"use a number with '.' as decimal point (default {(fallback is { } f ? f.ToString(CultureInfo.InvariantCulture) : "none")})"));
        return fallback;
    }

    /// <summary>A number of seconds (<c>telemetryIntervalSeconds</c>).</summary>
    public TimeSpan Seconds(string key, string? raw, TimeSpan fallback) => TimeSpan.FromSeconds(Number(key, raw, fallback.TotalSeconds));

    /// <summary>A number of minutes (<c>learning:sampleTtlMinutes</c>).</summary>
    public TimeSpan Minutes(string key, string? raw, TimeSpan fallback) => TimeSpan.FromMinutes(Number(key, raw, fallback.TotalMinutes));

    /// <summary>A duration written <c>[d.]hh:mm:ss[.fffffff]</c>; a bare number is refused (TimeSpan would read "60" as 60 days).</summary>
    public TimeSpan Duration(string key, string? raw, TimeSpan fallback)
    {
        var v = Text(raw);
        if (v is null) return fallback;
        if (v.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParseExact(v, "c", CultureInfo.InvariantCulture, out var t)) return t;
        Report(new(key, v, "is not a duration", $"use hh:mm:ss, e.g. {fallback:c}"));
        return fallback;
    }

    /// <summary>An enum value by name, case-insensitive, '-' and '_' ignored ("class-balanced", "ClassBalanced"); numbers are refused.</summary>
    public T Enum<T>(string key, string? raw, T fallback)
        where T : struct, Enum
    {
        var v = Text(raw);
        if (v is null) return fallback;
        var normalized = v.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
        if (!int.TryParse(v, out _) && System.Enum.TryParse<T>(normalized, ignoreCase: true, out var e) && System.Enum.IsDefined(e)) return e;
        Report(new(key, v, "is not one of the allowed values", "use one of: " + string.Join(", ", System.Enum.GetNames<T>().Select(JsonNamingPolicy.KebabCaseLower.ConvertName))));
        return fallback;
    }

    /// <summary>"host:port", "host" (default port) or "[v6]:port".</summary>
    public (string Host, int Port) HostPort(string key, string? raw, string fallbackHost, int fallbackPort)
    {
        var v = Text(raw);
        if (v is null) return (fallbackHost, fallbackPort);
        if (TryParseHostPort(v, fallbackPort, out var host, out var port)) return (host, port);
        Report(new(key, v, "is not host:port", "use e.g. broker.local:1883 or 10.0.0.5:8883"));
        return (fallbackHost, fallbackPort);
    }

    /// <summary>Parses "host:port", "host" (<paramref name="defaultPort"/>) or "[v6]:port".</summary>
    public static bool TryParseHostPort(string value, int defaultPort, out string host, out int port)
    {
        ArgumentNullException.ThrowIfNull(value);
        host = value;
        port = defaultPort;
        if (string.IsNullOrWhiteSpace(value)) return false;
        var colon = value.LastIndexOf(':');
        var bracket = value.LastIndexOf(']');
        if (colon < 0 || colon < bracket)
        {
            host = value.Trim('[', ']');
            return true;
        }
        host = value[..colon].Trim('[', ']');
        return int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) && host.Length > 0;
    }

    /// <summary>
    /// Reads a service's options: <paramref name="map"/> binds the settings model and converts its values through the
    /// reader it is given; then <see cref="Complete{T}"/>.
    /// </summary>
    public static T Read<T>(LayeredConfiguration layers, Func<ConfigurationReader, T> map, ConfigurationValidator<T> validator)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(map);
        var reader = new ConfigurationReader(layers);
        return reader.Complete(map(reader), validator);
    }

    /// <summary>
    /// Validates <paramref name="options"/> and returns them, or throws one <see cref="ConfigurationException"/> with the
    /// values that could not be read first, then the rule violations (except on keys already reported: a rule violation
    /// on a value left at its default is usually a consequence of the unreadable one), each with its source.
    /// </summary>
    public T Complete<T>(T options, ConfigurationValidator<T> validator)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        var errors = new List<ConfigurationError>(_errors);
        errors.AddRange(validator.Check(options).Where(e => _errors.TrueForAll(p => p.Key != e.Key)));
        if (errors.Count > 0)
            throw new ConfigurationException(layers.Service, [.. errors.Select(e => e with { Source = e.Source ?? layers.SourceOf(e.Key) })]);
        return options;
    }
}
