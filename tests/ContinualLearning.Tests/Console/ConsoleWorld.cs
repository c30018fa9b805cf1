using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Console;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.Playwright;

namespace ContinualLearning.Tests.FleetConsole;

/// <summary>
/// One fleet for the browser tests, started once: an embedded MQTT broker, the real aggregator with its console on a
/// free loopback port (operator token file, canary rollout on d0 and d1), six learning devices that publish retained
/// status and telemetry over MQTT as real daemons do (their accuracy says how the version they run does: a canary
/// beats its control), <see cref="FillerDevices"/> further devices that only publish status (the 10,000-device
/// table), and one headless Debian Chromium launched through its executable path by Playwright. Beside it, on fleet
/// <see cref="ClusterFleet"/>, a second aggregator with concept-aware aggregation on whose two real rounds (devices'
/// deltas with loss reports, <see cref="AggregatorTestKit.SplitIntoTwoClustersAsync"/>) created cluster 1 with two
/// released versions; its devices publish retained status too.
/// </summary>
public sealed class ConsoleWorld : IAsyncLifetime
{
    public const string Fleet = "console";

    public const string ClusterFleet = "console-clusters";

    /// <summary>The devices of <see cref="ClusterFleet"/>: a1–a3 stay in cluster 0, b1–b3 go to cluster 1; b3 is offline.</summary>
    public static readonly string[] ClusterDevices = ["a1", "a2", "a3", "b1", "b2", "b3"];

    /// <summary>Status-only devices beside the learners: the device table's scale.</summary>
    public const int FillerDevices = 10_000;

    public static readonly string[] Learners = ["d0", "d1", "d2", "d3", "d4", "d5"];

    private readonly EmbeddedBroker _broker = new();
    private readonly AggregatorTestKit _kit = AggregatorTestKit.ForUnitTests();
    private readonly AggregatorTestKit _clusterKit = AggregatorTestKit.ForUnitTests();
    private readonly CancellationTokenSource _stop = new();
    private FleetMqttClient? _devices;
    private Task? _telemetry;
    private IPlaywright? _playwright;

    public static string Token { get; } = OperatorAuth.NewToken();

    public AggregatorService Service { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public Uri Address => Service.ConsoleAddress ?? throw new InvalidOperationException("The console has no address: it did not start.");

    /// <summary>The aggregator of <see cref="ClusterFleet"/> (clustering on, cluster 1 created).</summary>
    public AggregatorService ClusterService { get; private set; } = null!;

    public HttpClient ClusterHttp { get; private set; } = null!;

    public Uri ClusterAddress => ClusterService.ConsoleAddress ?? throw new InvalidOperationException("The clustering aggregator's console has no address: it did not start.");

    /// <summary>Where the tests save screenshots (printed by each test): TestResults/console-screenshots beside the test binaries unless CL_SCREENSHOTS says where.</summary>
    public static string ScreenshotDirectory { get; } =
        Environment.GetEnvironmentVariable("CL_SCREENSHOTS") is { Length: > 0 } dir ? dir : Path.Combine(AppContext.BaseDirectory, "TestResults", "console-screenshots");

    /// <summary>The first line of each test: fails it (CL_REQUIRE_BROWSER=1) or skips it when Chromium is missing.</summary>
    public static void RequireBrowser() => Chromium.Dependency.Require(Chromium.FindExecutable() is not null);

    public async ValueTask InitializeAsync()
    {
        if (Chromium.FindExecutable() is not { } chromium) return; // the [BrowserFact] skips or fails the tests
        // Bounds the whole set-up: a broker or driver that never answers fails the tests instead of holding the run.
        using var setup = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await _broker.StartAsync().WaitAsync(setup.Token);
        var tokens = Path.Combine(_kit.Root, "operators");
        await File.WriteAllTextAsync(tokens, $"alice:{OperatorAuth.Hash(Token)}\n");
        Service = new AggregatorService(_kit.Options(_broker.Port, Fleet, "agg-console", o => o with
        {
            Aggregation = o.Aggregation with { BufferSize = Learners.Length },
            Rollout = new RolloutOptions { Canary = true, CanaryDevices = ["d0", "d1"], MinReports = 3, MinDevices = 2, AccuracyMargin = 0.02, Window = TimeSpan.FromMinutes(2) },
            Console = new ConsoleOptions
            {
                Listen = "127.0.0.1:0",
                OperatorTokenFile = tokens,
                RolloutSampleInterval = TimeSpan.FromMilliseconds(250),
                Heartbeat = TimeSpan.FromSeconds(1),
            },
        }));
        await Service.StartAsync().WaitAsync(setup.Token);
        Http = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        _devices = new FleetMqttClient(new FleetMqttClientOptions { ClientId = "console-devices", Port = _broker.Port });
        await _devices.StartAsync(setup.Token);
        foreach (var id in Learners) await PublishStatusAsync(id, "1.0.0", id is "d0" or "d1" ? "canary" : "all", ct: setup.Token);
        for (var i = 0; i < FillerDevices; i++)
            await PublishStatusAsync($"f-{i:D5}", "1.0.0", "all", i % 10 == 0 ? DeviceState.Offline : DeviceState.Online, ct: setup.Token);
        await WaitUntil(async ct => (await GetJsonAsync("api/v1/overview", ct)).GetProperty("devices").GetProperty("total").GetInt32(),
            total => total == Learners.Length + FillerDevices, "the console counts every device", TimeSpan.FromSeconds(90));
        _telemetry = Task.Run(() => TelemetryLoopAsync(_stop.Token), CancellationToken.None);
        await StartClusterFleetAsync(tokens, setup.Token);

        _playwright = await Playwright.CreateAsync().WaitAsync(setup.Token);
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // Root in CI containers: Chromium's sandbox needs an unprivileged user namespace it does not get there.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
            Timeout = 60_000,
        }).WaitAsync(setup.Token);
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    /// <summary>
    /// A new page (1280 × 900) on <paramref name="address"/> (default: the main fleet's console) that records console
    /// errors and uncaught exceptions into <paramref name="errors"/>.
    /// </summary>
    public async Task<IPage> OpenAsync(List<string> errors, string route = "#/", Uri? address = null)
    {
        var page = await Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, BaseURL = (address ?? Address).ToString() });
        page.SetDefaultTimeout(30_000);
        page.Console += (_, m) => { if (m.Type == "error") lock (errors) errors.Add($"console: {m.Text} ({m.Location})"); };
        page.PageError += (_, e) => { lock (errors) errors.Add($"page error: {e}"); };
        await page.GotoAsync(route);
        await WaitLoadedAsync(page);
        return page;
    }

    /// <summary>Waits until the view on screen has shown its data (the shell marks main[data-loaded=true]).</summary>
    public static Task WaitLoadedAsync(IPage page) =>
        page.Locator("main[data-loaded='true']").WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });

    /// <summary>Saves a full-page screenshot and returns its path.</summary>
    public static async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {path}");
        return path;
    }

    public Task<JsonElement> GetJsonAsync(string path, CancellationToken cancellationToken = default) => GetJsonAsync(Http, path, cancellationToken);

    /// <summary>GET on the clustering aggregator's console.</summary>
    public Task<JsonElement> GetClusterJsonAsync(string path, CancellationToken cancellationToken = default) => GetJsonAsync(ClusterHttp, path, cancellationToken);

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>One delta from each learner on <paramref name="baseVersion"/>: a full buffer, so the next tick aggregates a candidate.</summary>
    public async Task SendRoundAsync(string baseVersion)
    {
        foreach (var id in Learners)
            await _devices!.PublishAsync(FleetTopics.DeltaTopic(Fleet, id), _kit.EncodeDelta(id, baseVersion, value: 0.001f)).WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A delta with a NaN in it: the aggregator refuses it and logs the rejection.</summary>
    public Task SendPoisonAsync(string deviceId) => _devices!.PublishAsync(FleetTopics.DeltaTopic(Fleet, deviceId), _kit.EncodeNaNDelta(deviceId)).WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>The second aggregator: clustering on, its devices' status retained, then two real rounds that create cluster 1.</summary>
    private async Task StartClusterFleetAsync(string tokens, CancellationToken ct)
    {
        ClusterService = new AggregatorService(_clusterKit.Options(_broker.Port, ClusterFleet, "agg-console-clusters", o => AggregatorTestKit.WithClustering(o) with
        {
            Console = new ConsoleOptions { Listen = "127.0.0.1:0", OperatorTokenFile = tokens, Heartbeat = TimeSpan.FromSeconds(1) },
        }));
        await ClusterService.StartAsync(ct).WaitAsync(ct);
        ClusterHttp = new HttpClient { BaseAddress = ClusterAddress, Timeout = TimeSpan.FromSeconds(30) };
        foreach (var id in ClusterDevices)
            await PublishStatusAsync(id, "1.0.0", "all", id == "b3" ? DeviceState.Offline : DeviceState.Online, ClusterFleet, ct);
        await WaitUntil(() => ClusterService.Devices.Count == ClusterDevices.Length);
        await _clusterKit.SplitIntoTwoClustersAsync(ClusterService, ct);
    }

    private Task PublishStatusAsync(string id, string version, string cohort, DeviceState state = DeviceState.Online, string fleet = Fleet, CancellationToken ct = default) =>
        _devices!.PublishAsync(FleetTopics.Status(fleet, id), FleetJson.Serialize(new DeviceStatus
        {
            DeviceId = id, State = state, Timestamp = DateTimeOffset.UtcNow, ModelName = AggregatorTestKit.Model, ModelVersion = version, BaseVersion = version,
            Cohort = cohort, Engine = "managed", DeltasSent = 1,
        }), retain: true, cancellationToken: ct);

    // Each learner reports the accuracy of what it runs: the released version for everyone, the canary version on d0
    // and d1 while a canary runs. The canary is better than its control, so the aggregator promotes it; d3 reports
    // drift once, so the timeline has an alarm.
    private async Task TelemetryLoopAsync(CancellationToken ct)
    {
        var drifted = false;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var canary = Service.Canary?.CandidateVersion;
                var released = Service.Registry.Latest(AggregatorTestKit.Model, VersionStatus.Released)?.Version ?? "1.0.0";
                foreach (var id in Learners)
                {
                    var onCanary = canary is not null && id is "d0" or "d1";
                    var version = onCanary ? canary! : released;
                    var drift = id == "d3" && !drifted;
                    await _devices!.PublishAsync(FleetTopics.Telemetry(Fleet, id), FleetJson.Serialize(new Telemetry
                    {
                        DeviceId = id, Timestamp = DateTimeOffset.UtcNow, ModelVersion = version, BaseVersion = version, AccuracyWindow = 100,
                        Accuracy = onCanary ? 0.93 : 0.81 + (id[1] - '0') * 0.005,
                        Drift = drift ? DriftState.Drift : DriftState.Stable, DriftDetector = drift ? "adwin" : null,
                    }), cancellationToken: ct);
                    drifted |= drift;
                }
                await Task.Delay(200, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_telemetry is not null) await _telemetry.WaitAsync(TimeSpan.FromSeconds(10));
        if (Browser is not null) await Browser.CloseAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _playwright?.Dispose();
        if (_devices is not null) await _devices.DisposeAsync();
        if (Service is not null) await Service.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        if (ClusterService is not null) await ClusterService.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        Http?.Dispose();
        ClusterHttp?.Dispose();
        await _broker.DisposeAsync();
        _kit.Dispose();
        _clusterKit.Dispose();
        _stop.Dispose();
    }
}
