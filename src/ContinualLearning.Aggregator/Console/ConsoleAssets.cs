using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ContinualLearning.Aggregator.Console;

/// <summary>
/// The fleet console's page: the files under <c>Console/wwwroot</c> and the build-time uPlot copy, embedded in this
/// assembly as <c>console/…</c> resources and served from memory (<c>/</c> is <c>index.html</c>). Every answer carries
/// its content type, an ETag (304 on <c>If-None-Match</c>), <c>Cache-Control: no-cache</c> (an upgraded aggregator
/// is never shown a stale page) and a Content-Security-Policy that allows only this origin's scripts, styles and
/// connections: no inline script, no CDN, so the page works offline and an injected string cannot run.
/// </summary>
internal static class ConsoleAssets
{
    /// <summary>The resource name prefix of the page's files (the csproj's <c>LogicalName</c>).</summary>
    internal const string ResourcePrefix = "console/";

    /// <summary>
    /// The page's policy. <c>style-src 'self'</c> still lets scripts set <c>element.style</c> (uPlot sizes its canvas
    /// that way); what it forbids are <c>style</c> attributes and <c>&lt;style&gt;</c> blocks in markup.
    /// </summary>
    internal const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; " +
        "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".json"] = "application/json; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Maps <c>GET</c> of every embedded page file, and <c>/</c> to <c>index.html</c>.</summary>
    public static void Map(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        foreach (var asset in Load(typeof(ConsoleAssets).Assembly))
        {
            app.MapGet(asset.Path, (HttpContext context) => Serve(context, asset)).ExcludeFromDescription();
            if (asset.Path == "/index.html") app.MapGet("/", (HttpContext context) => Serve(context, asset)).ExcludeFromDescription();
        }
    }

    /// <summary>Every <c>console/…</c> resource of <paramref name="assembly"/> with its URL path, type and ETag.</summary>
    internal static IReadOnlyList<ConsoleAsset> Load(Assembly assembly)
    {
        var assets = new List<ConsoleAsset>();
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            using var stream = assembly.GetManifestResourceStream(name)!;
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            var path = "/" + name[ResourcePrefix.Length..];
            var type = ContentTypes.GetValueOrDefault(Path.GetExtension(path), "application/octet-stream");
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 12)) + "\"";
            assets.Add(new ConsoleAsset(path, type, etag, bytes));
        }
        return assets;
    }

    private static IResult Serve(HttpContext context, ConsoleAsset asset)
    {
        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        if (context.Request.Headers.IfNoneMatch.Contains(asset.ETag)) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Content, asset.ContentType);
    }
}

/// <summary>One embedded page file: its URL path (<c>/js/app.js</c>), content type, ETag (quoted) and bytes.</summary>
internal sealed record ConsoleAsset(string Path, string ContentType, string ETag, byte[] Content);
