using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace ContinualLearning.Aggregator;

/// <summary>The aggregator's HTTP endpoint for <c>/metrics</c> and <c>/health</c> (docs/aggregator.md, "Metrics").</summary>
public sealed record MetricsOptions
{
    /// <summary>
    /// <c>address:port</c> to serve on (<c>127.0.0.1:9464</c>; <c>0.0.0.0:9464</c> or <c>[::]:9464</c> for every
    /// interface; <c>localhost:9464</c>; port 0 picks a free one), or null (default) for no endpoint.
    /// </summary>
    public string? Listen { get; init; }

    /// <summary>Parses <see cref="Listen"/>'s form: an IPv4 or bracketed IPv6 address, or <c>localhost</c>, then a port 0–65535.</summary>
    public static bool TryParseListen(string? text, [NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort) return false;
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        else if (host.Contains(':', StringComparison.Ordinal)) return false; // IPv6 needs brackets: [::1]:9464
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) host = "127.0.0.1";
        if (!IPAddress.TryParse(host, out var address)) return false;
        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
