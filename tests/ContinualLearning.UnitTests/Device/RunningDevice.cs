using System.Net.Http.Headers;
using ContinualLearning.Device;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Onnx;
using ContinualLearning.UnitTests.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// A running daemon (HTTP API, agent connected to an embedded broker) in a <see cref="DeviceTestKit"/>: serving the kit's
/// feature model, or a real audio bundle (the speech-embedding stages in ONNX Runtime and a fresh 3-class head; skips,
/// or fails under CL_REQUIRE_SPEECH=1, without the speech models).
/// </summary>
internal sealed class RunningDevice : IAsyncDisposable
{
    /// <summary>The audio model's classes.</summary>
    public static readonly string[] Labels = ["yes", "no", "up"];

    private readonly EmbeddedBroker _broker = new();
    private WebApplication _app = null!;

    private RunningDevice()
    {
    }

    public DeviceTestKit Kit { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public DeviceRuntime Runtime => _app.Services.GetRequiredService<DeviceService>().Runtime;

    public int BrokerPort => _broker.Port;

    /// <summary>The kit's 3-feature, 2-class model.</summary>
    public static Task<RunningDevice> StartFeaturesAsync() => StartAsync(kit => kit.Options with { InitialBundle = kit.Bundle("1.0.0") });

    /// <summary>An audio model (<see cref="Labels"/>) built by <see cref="SpeechBundleBuilder"/>.</summary>
    public static Task<RunningDevice> StartAudioAsync(Func<DeviceOptions, DeviceOptions>? configure = null)
    {
        var models = SpeechTestSupport.RequireModels();
        return StartAsync(kit =>
        {
            var bundle = Path.Combine(kit.Root, "bundles", "keywords-1.0.0");
            SpeechBundleBuilder.Save(bundle, new SpeechBundleOptions { Name = "keywords", LabelNames = Labels, SpeechModelDirectory = models });
            var options = kit.Options with { ModelName = "keywords", InitialBundle = bundle };
            return configure?.Invoke(options) ?? options;
        });
    }

    private static async Task<RunningDevice> StartAsync(Func<DeviceTestKit, DeviceOptions> configure)
    {
        var device = new RunningDevice();
        await device._broker.StartAsync();
        device.Kit = new DeviceTestKit(device._broker.Port);
        device.Kit.Options = configure(device.Kit);
        device._app = DeviceHost.Build(device.Kit.Options, configureLogging: l => l.ClearProviders());
        await device._app.StartAsync();
        // Expect: 100-continue (as curl sends for large bodies): a clip refused before its body is read is never sent,
        // so the 413 cannot race the write into a closed connection.
        device.Http = new HttpClient { BaseAddress = DeviceHost.HttpAddress(device._app), DefaultRequestHeaders = { ExpectContinue = true } };
        // Connected and subscribed: IsConnected turns true before the connect loop has subscribed the samples topic, so
        // a message published right then would be lost.
        await WaitUntil(() => device._app.Services.GetRequiredService<DeviceService>().Agent is not null);
        await device._app.Services.GetRequiredService<DeviceService>().Agent!.WaitUntilConnectedAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return device;
    }

    public async Task<HttpResponseMessage> PostAsync(string path, byte[] body, string contentType = "audio/wav")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await Http.PostAsync(path, content);
    }

    /// <summary>Stops the daemon, leaving its files (the store is kept: DeleteStoreOnStop is off in the kit).</summary>
    public async Task StopAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await StopAsync();
        await _broker.DisposeAsync();
        Kit?.Dispose();
    }
}
