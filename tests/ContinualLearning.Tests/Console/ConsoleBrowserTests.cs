using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace ContinualLearning.Tests.FleetConsole;

/// <summary>
/// The fleet console in a real browser (Debian's Chromium, headless) against a running aggregator, embedded broker and
/// MQTT devices (<see cref="ConsoleWorld"/>): the page loads without console errors, shows the API's numbers, follows
/// a canary promotion live over server-sent events, rolls back only with an operator token, and passes axe on its
/// main views; against a fleet with concept-aware aggregation it shows the API's clusters and rolls back a cluster
/// model. Screenshots go to <see cref="ConsoleWorld.ScreenshotDirectory"/>.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleBrowserTests(ConsoleWorld world)
{
    private static readonly string[] MainViews = ["#/", "#/devices", "#/versions/1.0.0", "#/rollouts", "#/rejections", "#/clusters"];

    [BrowserFact]
    public async Task The_page_loads_without_console_errors_and_shows_the_APIs_numbers()
    {
        ConsoleWorld.RequireBrowser();
        using var response = await world.Http.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var csp = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.NotNull(response.Headers.ETag);

        var errors = new List<string>();
        var page = await world.OpenAsync(errors);
        var overview = await world.GetJsonAsync("api/v1/overview");
        var devices = overview.GetProperty("devices");
        Assert.Equal(devices.GetProperty("total").GetInt32().ToString(CultureInfo.InvariantCulture), await page.GetAttributeAsync("#device-count", "data-value"));
        Assert.Equal(devices.GetProperty("online").GetInt32().ToString(CultureInfo.InvariantCulture), await page.GetAttributeAsync("#online-count", "data-value"));
        Assert.Equal(overview.GetProperty("latest").GetProperty("version").GetString(), await page.GetAttributeAsync("#latest-version", "data-version"));
        Assert.Equal(overview.GetProperty("release").GetProperty("version").GetString(), await page.GetAttributeAsync("#current-release", "data-version"));
        foreach (var (version, count) in devices.GetProperty("byVersion").EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())))
            Assert.Equal(count.ToString(CultureInfo.InvariantCulture), await page.GetAttributeAsync($"#versions-by-count tr[data-key='{version}']", "data-count"));
        Assert.Equal(devices.GetProperty("byVersion").EnumerateObject().Count(), await page.Locator("#versions-by-count tbody tr[data-key]").CountAsync());
        await ConsoleWorld.ScreenshotAsync(page, "overview");

        // Every view once, then the overview again: none may log an error or throw.
        foreach (var route in MainViews.Append("#/versions").Append("#/audit").Append("#/devices/d0").Append("#/"))
        {
            await page.EvaluateAsync("r => { location.hash = r; }", route);
            await ConsoleWorld.WaitLoadedAsync(page);
        }
        Assert.True(errors.Count == 0, "console errors: " + string.Join("; ", errors));
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_device_table_searches_sorts_and_pages_on_the_server_at_10000_devices()
    {
        ConsoleWorld.RequireBrowser();
        var errors = new List<string>();
        var page = await world.OpenAsync(errors, "#/devices");
        var all = await world.GetJsonAsync("api/v1/devices?limit=50");
        Assert.Equal(ConsoleWorld.FillerDevices + ConsoleWorld.Learners.Length, all.GetProperty("total").GetInt32());
        Assert.Equal(all.GetProperty("total").GetInt32().ToString(CultureInfo.InvariantCulture), await page.GetAttributeAsync("#device-page-status", "data-total"));
        Assert.Equal(Ids(all), await RowIdsAsync(page));

        var timings = new List<string>();
        await TimedAsync(timings, "next page", page, () => page.ClickAsync("#device-page-next"));
        Assert.Equal(Ids(await world.GetJsonAsync("api/v1/devices?limit=50&offset=50")), await RowIdsAsync(page));

        // The table starts sorted by device id, ascending: one click on that heading reverses it.
        Assert.Equal("ascending", await page.GetAttributeAsync("th:has(button[data-sort='deviceId'])", "aria-sort"));
        await TimedAsync(timings, "sort by device, descending", page, () => page.ClickAsync("button.sort[data-sort='deviceId']"));
        Assert.Equal("descending", await page.GetAttributeAsync("th:has(button[data-sort='deviceId'])", "aria-sort"));
        Assert.Equal(Ids(await world.GetJsonAsync("api/v1/devices?limit=50&sort=deviceId&order=desc")), await RowIdsAsync(page));

        await TimedAsync(timings, "search", page, () => page.FillAsync("#device-search", "F-0999"));
        var found = await world.GetJsonAsync("api/v1/devices?limit=50&search=F-0999&sort=deviceId&order=desc");
        Assert.Equal(10, found.GetProperty("total").GetInt32());
        await Assertions.Expect(page.Locator("#device-page-status")).ToHaveAttributeAsync("data-total", "10");
        Assert.Equal(Ids(found), await RowIdsAsync(page));
        await ConsoleWorld.ScreenshotAsync(page, "devices-search");
        TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", timings));
        Assert.True(errors.Count == 0, "console errors: " + string.Join("; ", errors));
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task A_canary_promotion_appears_live_and_rollback_needs_the_operator_token()
    {
        ConsoleWorld.RequireBrowser();
        var errors = new List<string>();
        var page = await world.OpenAsync(errors);
        var before = await page.GetAttributeAsync("#latest-version", "data-version");
        // A marker in the page's memory: still there at the end means the page was never reloaded.
        await page.EvaluateAsync("() => { window.clMarker = 'same page'; }");

        await world.SendPoisonAsync("d5");
        await world.SendRoundAsync(before!);
        await Assertions.Expect(page.Locator("#last-canary")).ToHaveAttributeAsync("data-verdict", "promoted", new() { Timeout = 90_000 });
        var promoted = await page.GetAttributeAsync("#last-canary", "data-version");
        Assert.NotEqual(before, promoted);
        await Assertions.Expect(page.Locator("#latest-version")).ToHaveAttributeAsync("data-version", promoted!, new() { Timeout = 30_000 });
        Assert.Equal("same page", await page.EvaluateAsync<string>("() => window.clMarker"));
        var canary = (await world.GetJsonAsync("api/v1/overview")).GetProperty("lastCanary");
        Assert.Equal("promoted", canary.GetProperty("verdict").GetString());
        Assert.Equal(canary.GetProperty("canaryAccuracy").GetDouble(), double.Parse((await page.GetAttributeAsync("#last-canary-accuracy", "data-value"))!, CultureInfo.InvariantCulture), 9);
        Assert.Equal(canary.GetProperty("controlAccuracy").GetDouble(), double.Parse((await page.GetAttributeAsync("#last-control-accuracy", "data-value"))!, CultureInfo.InvariantCulture), 9);
        await ConsoleWorld.ScreenshotAsync(page, "overview-promoted");

        await Navigate(page, "#/rollouts");
        await page.Locator("#rollout-chart canvas").WaitForAsync();
        Assert.Contains(promoted!, await page.TextContentAsync("#rollout-decision") ?? "");
        await ConsoleWorld.ScreenshotAsync(page, "rollouts");

        await Navigate(page, "#/rejections");
        await Assertions.Expect(page.Locator("#rejections-by-device tr[data-device-id='d5']")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        await ConsoleWorld.ScreenshotAsync(page, "rejections");

        await Navigate(page, $"#/versions/{promoted}");
        await page.Locator($"#lineage a[data-version='{promoted}'][aria-current='page']").WaitForAsync();
        await page.Locator($"#lineage a[data-version='{before}']").WaitForAsync();

        // Back to the previous release (as `cl model rollback`), from its own page. No token: 401. A wrong one: 403.
        // Neither changes anything.
        await page.ClickAsync($"#lineage a[data-version='{before}']");
        await Assertions.Expect(page.Locator("#version-name")).ToHaveTextAsync(before!);
        await ConsoleWorld.WaitLoadedAsync(page);
        await page.ClickAsync("#rollback-button");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveAttributeAsync("data-state", "refused");
        await Assertions.Expect(page.Locator("#action-result")).ToContainTextAsync("401");
        await page.FillAsync("#operator-token", "not-the-token");
        await page.ClickAsync("#rollback-button");
        await Assertions.Expect(page.Locator("#action-result")).ToContainTextAsync("403");
        Assert.Equal("released", (await world.GetJsonAsync($"api/v1/versions/{promoted}")).GetProperty("status").GetString());
        await ConsoleWorld.ScreenshotAsync(page, "rollback-refused");

        await page.FillAsync("#operator-token", ConsoleWorld.Token);
        await page.ClickAsync("#rollback-button");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveAttributeAsync("data-state", "ok");
        await Assertions.Expect(page.Locator("#action-result")).ToContainTextAsync($"Rolled back: {promoted}");
        Assert.Equal("rolled-back", (await world.GetJsonAsync($"api/v1/versions/{promoted}")).GetProperty("status").GetString());
        await Assertions.Expect(page.Locator("#version-decisions-table")).ToContainTextAsync("manual-rollback", new() { Timeout = 30_000 });
        await ConsoleWorld.ScreenshotAsync(page, "rollback-done");
        await page.ClickAsync($"#lineage a[data-version='{promoted}']");
        await Assertions.Expect(page.Locator("#version-status")).ToHaveAttributeAsync("data-status", "rolled-back", new() { Timeout = 30_000 });
        // The overview tells the rolled-back newest version apart from the release the fleet runs now.
        Assert.Equal(before, (await world.GetJsonAsync("api/v1/overview")).GetProperty("release").GetProperty("version").GetString());
        await Navigate(page, "#/");
        await Assertions.Expect(page.Locator("#current-release")).ToHaveAttributeAsync("data-version", before!, new() { Timeout = 30_000 });

        var audit = (await world.GetJsonAsync("api/v1/audit")).EnumerateArray().Where(a => a.GetProperty("target").GetString() == before).ToArray();
        Assert.True(audit.Length >= 3, $"audit rows for {before}: {audit.Length} (expected the two refusals and the rollback)");
        Assert.Equal("same page", await page.EvaluateAsync<string>("() => window.clMarker"));
        Assert.True(errors.All(e => e.Contains("401", StringComparison.Ordinal) || e.Contains("403", StringComparison.Ordinal)),
            "console errors other than the refused actions' 401/403: " + string.Join("; ", errors));
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_main_views_have_no_serious_or_critical_accessibility_violations()
    {
        ConsoleWorld.RequireBrowser();
        var errors = new List<string>();
        var page = await world.OpenAsync(errors);
        var found = new List<string>();
        foreach (var route in MainViews)
        {
            await Navigate(page, route);
            AxeResult result = await page.RunAxe();
            found.AddRange(result.Violations.Where(v => v.Impact is "serious" or "critical")
                .Select(v => $"{route}: {v.Id} ({v.Impact}) {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Target?.ToString()))}"));
            await ConsoleWorld.ScreenshotAsync(page, "axe-" + route.Trim('#', '/').Replace('/', '-') switch { "" => "overview", var s => s });
        }
        Assert.True(found.Count == 0, string.Join("\n", found));
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_clusters_view_shows_the_APIs_clusters_and_a_cluster_model_rolls_back_with_the_operator_token()
    {
        ConsoleWorld.RequireBrowser();
        const string cluster1 = AggregatorTestKit.Model + ".c1";
        var errors = new List<string>();
        var violations = new List<string>();
        var page = await world.OpenAsync(errors, "#/clusters", world.ClusterAddress);
        var clusters = await world.GetClusterJsonAsync("api/v1/clusters");
        Assert.True(clusters.GetProperty("clustering").GetBoolean());
        var expected = clusters.GetProperty("clusters").EnumerateArray().Select(c => string.Join("|",
            c.GetProperty("cluster").GetInt32(), c.GetProperty("model").GetString(), c.GetProperty("state").GetString(), c.GetProperty("release").GetString(),
            c.GetProperty("devices").GetInt32(), c.GetProperty("online").GetInt32())).ToArray();
        Assert.Contains($"1|{cluster1}|live|1.1.0|3|2", expected);
        Assert.Equal(expected, await ClusterRowsAsync(page));
        await AxeAsync(page, "#/clusters", violations);
        await ConsoleWorld.ScreenshotAsync(page, "clusters");

        await Navigate(page, "#/");
        await Assertions.Expect(page.Locator("#cluster-count")).ToHaveAttributeAsync("data-value", clusters.GetProperty("live").GetInt32().ToString(CultureInfo.InvariantCulture));

        // A cluster's versions are one click from its row; the selector names the model shown.
        await Navigate(page, "#/clusters");
        await page.ClickAsync($"#clusters-table tr[data-cluster='1'] a[href='#/versions?model={cluster1}']");
        await Assertions.Expect(page.Locator("#versions-model")).ToHaveTextAsync(cluster1);
        await ConsoleWorld.WaitLoadedAsync(page);
        await Assertions.Expect(page.Locator("#model-select")).ToHaveValueAsync(cluster1);
        var versions = (await world.GetClusterJsonAsync($"api/v1/versions?model={cluster1}")).EnumerateArray().Select(v => v.GetProperty("version").GetString()!).ToArray();
        Assert.Equal(["1.1.0", "1.0.0"], versions);
        Assert.Equal(versions, await page.Locator("#versions-table tbody tr[data-version]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.version)"));
        await AxeAsync(page, $"#/versions?model={cluster1}", violations);

        // Roll sea.c1 back to 1.0.0 from its page: refused without the token, done and audited with it.
        await page.ClickAsync("#versions-table a[href='#/versions/1.0.0?model=" + cluster1 + "']");
        await Assertions.Expect(page.Locator("#version-model")).ToHaveTextAsync(cluster1);
        await Assertions.Expect(page.Locator("#version-status")).ToHaveAttributeAsync("data-status", "released");
        await AxeAsync(page, $"#/versions/1.0.0?model={cluster1}", violations);
        await page.ClickAsync("#rollback-button");
        await Assertions.Expect(page.Locator("#action-result")).ToContainTextAsync("401");
        Assert.Equal("released", (await world.GetClusterJsonAsync($"api/v1/versions/1.1.0?model={cluster1}")).GetProperty("status").GetString());
        await page.FillAsync("#operator-token", ConsoleWorld.Token);
        await page.ClickAsync("#rollback-button");
        await Assertions.Expect(page.Locator("#action-result")).ToHaveAttributeAsync("data-state", "ok");
        await Assertions.Expect(page.Locator("#action-result")).ToContainTextAsync("Rolled back: 1.1.0");
        await ConsoleWorld.ScreenshotAsync(page, "cluster-rollback-done");
        Assert.Equal("rolled-back", (await world.GetClusterJsonAsync($"api/v1/versions/1.1.0?model={cluster1}")).GetProperty("status").GetString());
        Assert.Equal("1.0.0", (await world.GetClusterJsonAsync("api/v1/clusters")).GetProperty("clusters")[1].GetProperty("release").GetString());
        // The configured model is untouched.
        Assert.Equal("1.2.0", (await world.GetClusterJsonAsync("api/v1/overview")).GetProperty("release").GetProperty("version").GetString());
        var audit = (await world.GetClusterJsonAsync("api/v1/audit")).EnumerateArray()
            .Where(a => a.GetProperty("target").GetString() == $"{cluster1} 1.0.0").Select(a => (a.GetProperty("operator").GetString(), a.GetProperty("outcome").GetString())).ToArray();
        Assert.Equal([("alice", "done"), ("anonymous", "unauthenticated")], audit);

        await Navigate(page, "#/clusters");
        await Assertions.Expect(page.Locator($"#clusters-table tr[data-cluster='1']")).ToHaveAttributeAsync("data-release", "1.0.0", new() { Timeout = 30_000 });
        // A device of cluster 1: its page names the cluster and links its version to sea.c1's.
        await Navigate(page, "#/devices/b2");
        await Assertions.Expect(page.Locator("#device-cluster")).ToHaveAttributeAsync("data-cluster", "1");
        await page.Locator($"main a[href='#/versions/1.0.0?model={cluster1}']").WaitForAsync();
        Assert.True(violations.Count == 0, string.Join("\n", violations));
        Assert.True(errors.All(e => e.Contains("401", StringComparison.Ordinal)), "console errors other than the refused rollback's 401: " + string.Join("; ", errors));
        await page.CloseAsync();
    }

    private static async Task<string[]> ClusterRowsAsync(IPage page) =>
        [.. (await page.Locator("#clusters-table tbody tr[data-cluster]").EvaluateAllAsync<string[]>(
            "rows => rows.map(r => [r.dataset.cluster, r.dataset.model, r.dataset.state, r.dataset.release, r.dataset.devices, r.dataset.online].join('|'))"))];

    private static async Task AxeAsync(IPage page, string route, List<string> found)
    {
        AxeResult result = await page.RunAxe();
        found.AddRange(result.Violations.Where(v => v.Impact is "serious" or "critical")
            .Select(v => $"{route}: {v.Id} ({v.Impact}) {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Target?.ToString()))}"));
    }

    private static async Task Navigate(IPage page, string route)
    {
        await page.EvaluateAsync("r => { location.hash = r; }", route);
        await ConsoleWorld.WaitLoadedAsync(page);
    }

    private static string[] Ids(JsonElement devicePage) =>
        devicePage.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("deviceId").GetString()!).ToArray();

    private static async Task<string[]> RowIdsAsync(IPage page) =>
        [.. (await page.Locator("#device-table tbody tr[data-device-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.deviceId)"))];

    /// <summary>Runs an interaction and waits until the table shows the answer (the pager text changes or rows change); records how long.</summary>
    private static async Task TimedAsync(List<string> timings, string what, IPage page, Func<Task> act)
    {
        var before = string.Join(",", await RowIdsAsync(page)) + "|" + await page.TextContentAsync("#device-page-status");
        var clock = Stopwatch.StartNew();
        await act();
        await WaitUntil(async _ => string.Join(",", await RowIdsAsync(page)) + "|" + await page.TextContentAsync("#device-page-status"),
            now => now != before, $"the device table answered '{what}'", TimeSpan.FromSeconds(30));
        timings.Add($"{what}: {clock.ElapsedMilliseconds} ms (includes the 250 ms search debounce when searching)");
    }
}

/// <summary>The browser tests share one <see cref="ConsoleWorld"/> (one aggregator, one Chromium) and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class ConsoleCollection : ICollectionFixture<ConsoleWorld>
{
    public const string Name = "console-browser";
}
