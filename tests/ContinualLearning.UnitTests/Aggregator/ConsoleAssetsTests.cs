using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using ContinualLearning.Aggregator.Console;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// The console page as the aggregator embeds and serves it: every module it imports is embedded (it works offline,
/// nothing from a CDN), no markup carries inline script or style (the CSP forbids both), and each file is answered
/// with its type, an ETag that yields 304, no-cache and the CSP.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed partial class ConsoleAssetsTests(EmbeddedBrokerFixture fixture) : BrokerTestBase(fixture)
{
    private static readonly IReadOnlyList<ConsoleAsset> Assets = ConsoleAssets.Load(typeof(ConsoleAssets).Assembly);

    [Fact]
    public void The_page_its_modules_and_uPlot_are_embedded_and_every_import_resolves()
    {
        var paths = Assets.Select(a => a.Path).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("/index.html", paths);
        Assert.Contains("/js/app.js", paths);
        Assert.Contains("/vendor/uPlot.esm.js", paths);
        Assert.Contains("/vendor/uPlot.min.css", paths);
        foreach (var module in Assets.Where(a => a.Path.EndsWith(".js", StringComparison.Ordinal)))
        {
            foreach (Match import in ImportFrom().Matches(Encoding.UTF8.GetString(module.Content)))
            {
                var target = new Uri(new Uri("http://console" + module.Path), import.Groups[1].Value).AbsolutePath;
                Assert.True(paths.Contains(target), $"{module.Path} imports {import.Groups[1].Value} ({target}), which is not embedded");
            }
        }
        var html = Encoding.UTF8.GetString(Assets.Single(a => a.Path == "/index.html").Content);
        foreach (Match reference in HtmlReference().Matches(html))
            Assert.True(paths.Contains("/" + reference.Groups[1].Value), $"index.html refers to {reference.Groups[1].Value}, which is not embedded");
    }

    [Fact]
    public void No_file_needs_inline_script_inline_style_or_another_origin()
    {
        foreach (var asset in Assets.Where(a => a.Path.StartsWith("/js/", StringComparison.Ordinal) || a.Path.EndsWith(".html", StringComparison.Ordinal) || a.Path.StartsWith("/css/", StringComparison.Ordinal)))
        {
            var text = Encoding.UTF8.GetString(asset.Content);
            Assert.DoesNotMatch(InlineScript(), text);
            Assert.DoesNotContain(" style=", text, StringComparison.Ordinal);
            Assert.DoesNotContain("innerHTML", text, StringComparison.Ordinal);
            Assert.DoesNotContain("eval(", text, StringComparison.Ordinal);
            Assert.DoesNotMatch(OtherOrigin(), text);
        }
    }

    [Fact]
    public async Task Files_are_served_with_type_ETag_no_cache_and_the_CSP_and_revalidate_to_304()
    {
        await using var host = await ConsoleTestHost.StartAsync(Fixture.Broker.Port, Fleet);
        (string Path, string Type)[] files = [("/", "text/html"), ("/js/app.js", "text/javascript"), ("/css/console.css", "text/css"), ("/vendor/uPlot.esm.js", "text/javascript")];
        foreach (var (path, type) in files)
        {
            using var response = await host.Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
            Assert.Equal(ConsoleAssets.ContentSecurityPolicy, string.Join("", response.Headers.GetValues("Content-Security-Policy")));
            Assert.Equal("nosniff", string.Join("", response.Headers.GetValues("X-Content-Type-Options")));
            var etag = Assert.IsType<EntityTagHeaderValue>(response.Headers.ETag);

            using var again = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
            again.Headers.IfNoneMatch.Add(etag);
            using var revalidated = await host.Http.SendAsync(again, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);
        }
        using var missing = await host.Http.GetAsync(new Uri("/js/nothing.js", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [GeneratedRegex(@"\bfrom\s+'(\.{1,2}/[^']+)'")]
    private static partial Regex ImportFrom();

    [GeneratedRegex(@"(?:src|href)=""(?!#)([^""]+)""")]
    private static partial Regex HtmlReference();

    [GeneratedRegex(@"<script(?![^>]*\bsrc=)[^>]*>")]
    private static partial Regex InlineScript();

    [GeneratedRegex(@"(?:src|href)\s*=\s*[""']?(?:https?:)?//")]
    private static partial Regex OtherOrigin();
}
