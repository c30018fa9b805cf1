using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ContinualLearning.Tests.Chaos;
using Microsoft.Playwright;

namespace ContinualLearning.Tests.FleetConsole;

/// <summary>
/// What a new user does: <c>cl demo --console</c> as its own process, then the printed address opened in Chromium. The
/// page's numbers are the running demo fleet's, a rollback without the printed token is refused, and Ctrl+C ends it.
/// </summary>
[Collection(DemoProcessCollection.Name)]
public sealed class DemoConsoleTests
{
    private static readonly TimeSpan DemoPatience = TimeSpan.FromMinutes(6);

    [BrowserFact]
    public async Task Cl_demo_console_keeps_the_fleet_running_and_its_page_shows_the_demo_fleet_until_ctrl_c()
    {
        ConsoleWorld.RequireBrowser();
        var ct = TestContext.Current.CancellationToken;
        var port = MosquittoBroker.FreePort();
        var workDir = Directory.CreateTempSubdirectory("cl-demo-console-").FullName;
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { AggregatorProcess.FindCli(), "demo", "--quick", "--plain", "--console", $"127.0.0.1:{port}" }) psi.ArgumentList.Add(a);
        using var demo = new Process { StartInfo = psi };
        var output = new List<string>();
        var url = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var token = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        demo.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            lock (output) output.Add(line);
            if (line.StartsWith("Fleet console: ", StringComparison.Ordinal)) url.TrySetResult(new Uri(line["Fleet console: ".Length..].Split(' ')[0]));
            if (line.StartsWith("Operator token", StringComparison.Ordinal)) token.TrySetResult(line[(line.LastIndexOf(' ') + 1)..]);
        };
        demo.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (output) output.Add("stderr: " + line); };
        demo.Start();
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        try
        {
            var address = await url.Task.WaitAsync(DemoPatience, ct);
            var operatorToken = await token.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal($"http://127.0.0.1:{port}/", address.ToString());

            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
            using var overview = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/overview", UriKind.Relative), ct));
            var devices = overview.RootElement.GetProperty("devices");
            Assert.True(devices.GetProperty("total").GetInt32() > 0, overview.RootElement.ToString());
            using var versions = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/versions", UriKind.Relative), ct));
            Assert.True(versions.RootElement.GetArrayLength() >= 2, $"the demo made no version beyond its seed: {versions.RootElement}");

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium.FindExecutable(),
                Headless = true,
                Args = ["--no-sandbox", "--disable-dev-shm-usage"],
                Timeout = 60_000,
            });
            var errors = new List<string>();
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = address.ToString() });
            page.SetDefaultTimeout(30_000);
            page.Console += (_, m) => { if (m.Type == "error") lock (errors) errors.Add($"console: {m.Text}"); };
            page.PageError += (_, e) => { lock (errors) errors.Add($"page error: {e}"); };
            await page.GotoAsync("#/");
            await ConsoleWorld.WaitLoadedAsync(page);
            // The demo fleet keeps running (it may still make versions): the page agrees with a fresh read of the API.
            using var now = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/overview", UriKind.Relative), ct));
            Assert.Equal(now.RootElement.GetProperty("devices").GetProperty("total").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
                await page.GetAttributeAsync("#device-count", "data-value"));
            var shown = await page.GetAttributeAsync("#latest-version", "data-version");
            using var known = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/v1/versions", UriKind.Relative), ct));
            Assert.Contains(shown, known.RootElement.EnumerateArray().Select(v => v.GetProperty("version").GetString()));
            await ConsoleWorld.ScreenshotAsync(page, "demo-console-overview");
            Assert.Empty(errors);

            var target = versions.RootElement[versions.RootElement.GetArrayLength() - 1].GetProperty("version").GetString();
            using var refused = await http.PostAsync(new Uri($"api/v1/versions/{target}/rollback", UriKind.Relative), null, ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.False(string.IsNullOrWhiteSpace(operatorToken));
        }
        finally
        {
            // Ctrl+C, as the user stops it.
            if (!demo.HasExited) using (Process.Start("kill", ["-INT", demo.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) { }
            var exited = await Task.Run(() => demo.WaitForExit(TimeSpan.FromSeconds(90)), CancellationToken.None);
            if (!exited) demo.Kill(entireProcessTree: true);
            try { Directory.Delete(workDir, recursive: true); } catch (IOException) { }
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join('\n', output.TakeLast(40)));
            Assert.True(exited, "cl demo --console did not stop within 90 s of Ctrl+C");
        }
        Assert.Equal(0, demo.ExitCode);
        lock (output) Assert.Contains(output, l => l.Contains("Ctrl+C: stopping the fleet.", StringComparison.Ordinal));
    }
}

/// <summary>The demo process trains eight devices on the machine's two cores: it runs alone, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DemoProcessCollection
{
    public const string Name = "demo process";
}
