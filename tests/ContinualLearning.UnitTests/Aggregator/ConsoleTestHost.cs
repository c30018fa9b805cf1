using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Console;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;

namespace ContinualLearning.UnitTests.Aggregator;

/// <summary>
/// An aggregator with its console on a free loopback port, on the shared embedded broker, with an operator token file
/// (operator "alice", token <see cref="Token"/>), and an HTTP client on the console. Devices publish retained status
/// and telemetry over MQTT like real ones (<see cref="PublishStatusAsync"/>, <see cref="PublishTelemetryAsync"/>).
/// </summary>
internal sealed class ConsoleTestHost : IAsyncDisposable
{
    public const string Operator = "alice";

    private readonly FleetMqttClient _devices;

    private ConsoleTestHost(AggregatorTestKit kit, AggregatorService service, FleetMqttClient devices, string fleet)
    {
        Kit = kit;
        Service = service;
        _devices = devices;
        Fleet = fleet;
        Http = new HttpClient { BaseAddress = service.ConsoleAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public static string Token { get; } = OperatorAuth.NewToken();

    public AggregatorTestKit Kit { get; }

    public AggregatorService Service { get; }

    public string Fleet { get; }

    public HttpClient Http { get; }

    /// <summary>The operator token file (alice and bob).</summary>
    public string TokenFile => Path.Combine(Kit.Root, "operators");

    public static async Task<ConsoleTestHost> StartAsync(int brokerPort, string fleet, Func<AggregatorOptions, AggregatorOptions>? configure = null)
    {
        var kit = AggregatorTestKit.ForUnitTests();
        var tokens = Path.Combine(kit.Root, "operators");
        await File.WriteAllTextAsync(tokens, $"# operators\n{Operator}:{OperatorAuth.Hash(Token)}\nbob:{OperatorAuth.Hash("bobs-token")}\n");
        var options = kit.Options(brokerPort, fleet, configure: o => o with
        {
            Console = new ConsoleOptions { Listen = "127.0.0.1:0", OperatorTokenFile = tokens, Heartbeat = TimeSpan.FromMilliseconds(300) },
        });
        var service = new AggregatorService(configure is null ? options : configure(options));
        await service.StartAsync();
        var devices = new FleetMqttClient(new FleetMqttClientOptions { ClientId = fleet + "-devices", Port = brokerPort });
        await devices.StartAsync(TestContext.Current.CancellationToken);
        return new ConsoleTestHost(kit, service, devices, fleet);
    }

    public Task PublishStatusAsync(string deviceId, DeviceState state = DeviceState.Online, string? version = "1.0.0", string? cohort = "all") =>
        _devices.PublishAsync(FleetTopics.Status(Fleet, deviceId), FleetJson.Serialize(new DeviceStatus
        {
            DeviceId = deviceId, State = state, ModelName = AggregatorTestKit.Model, ModelVersion = version, BaseVersion = version, Cohort = cohort,
            Engine = "managed", Timestamp = DateTimeOffset.UtcNow, DeltasSent = 3,
        }), retain: true, cancellationToken: TestContext.Current.CancellationToken);

    public Task PublishTelemetryAsync(string deviceId, double accuracy, DriftState drift = DriftState.Stable, string version = "1.0.0") =>
        _devices.PublishAsync(FleetTopics.Telemetry(Fleet, deviceId), FleetJson.Serialize(new Telemetry
        {
            DeviceId = deviceId, Timestamp = DateTimeOffset.UtcNow, ModelVersion = version, BaseVersion = version, Accuracy = accuracy, AccuracyWindow = 50,
            Drift = drift, DriftDetector = drift == DriftState.Drift ? "adwin" : null,
        }), cancellationToken: TestContext.Current.CancellationToken);

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>A client of the broker (e.g. a device listening on its command topic), disposed with the host.</summary>
    public FleetMqttClient Devices => _devices;

    /// <summary>POSTs with <paramref name="token"/> as the bearer token (none when null).</summary>
    public async Task<(int Status, JsonElement Body)> PostAsync(string path, string? token, object? body = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = body is null ? null : JsonContent.Create(body),
        };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _devices.DisposeAsync();
        await Service.DisposeAsync();
        Kit.Dispose();
    }
}
