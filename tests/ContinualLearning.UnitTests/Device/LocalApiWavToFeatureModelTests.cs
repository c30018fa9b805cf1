using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ContinualLearning.Audio;
using ContinualLearning.Device;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.UnitTests.Audio;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.UnitTests.Device;

/// <summary>A feature model behind the real loopback API: a WAV body gets a 415 naming what the model takes, and nothing is stored.</summary>
public sealed class LocalApiWavToFeatureModelTests : IAsyncLifetime
{
    private readonly EmbeddedBroker _broker = new();
    private DeviceTestKit _kit = null!;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    private DeviceRuntime Runtime => _app.Services.GetRequiredService<DeviceService>().Runtime;

    public async ValueTask InitializeAsync()
    {
        await _broker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
        _kit.Options = _kit.Options with { InitialBundle = _kit.Bundle("1.0.0") };
        _app = DeviceHost.Build(_kit.Options, configureLogging: l => l.ClearProviders());
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = DeviceHost.HttpAddress(_app) };
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _broker.DisposeAsync();
        _kit.Dispose();
    }

    [Theory]
    [InlineData("/predict", "audio/wav")]
    [InlineData("/predict", "audio/x-wav")]
    [InlineData("/label?label=UP", "audio/wave")]
    [InlineData("/label?label=UP", "Audio/WAV; codecs=1")]
    public async Task A_clip_to_a_feature_model_is_415_naming_JSON_features(string path, string contentType)
    {
        var wav = WavWriter.Pcm16Mono(WavBytes.Clip(seed: 1), 16_000);

        using var response = await Post(path, wav, contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("A WAV body was sent, but this model takes JSON features (Content-Type: application/json, {\"features\": [...]}).", error.RootElement.GetProperty("error").GetString());
        Assert.Equal("contentType", error.RootElement.GetProperty("field").GetString());
        Assert.Equal(contentType, error.RootElement.GetProperty("value").GetString());
        Assert.Equal(0, Runtime.Learner!.Status.StoredSamples);
        Assert.Equal(0, Runtime.Metrics.Predictions);
        Assert.Equal(1, Runtime.Metrics.RequestsRejected);
    }

    [Fact]
    public async Task Another_audio_encoding_is_415_naming_what_the_model_takes()
    {
        using var response = await Post("/predict", [0xFF, 0xFB, 0x90, 0x00], "audio/mpeg");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Content type 'audio/mpeg' is not accepted; this model takes JSON features (Content-Type: application/json, {\"features\": [...]}).", error.RootElement.GetProperty("error").GetString());
        Assert.Equal(0, Runtime.Learner!.Status.StoredSamples);
    }

    [Fact]
    public async Task JSON_still_works_for_the_feature_model()
    {
        using var response = await Post("/predict", Encoding.UTF8.GetBytes("{\"features\":[1,2,3]}"), "application/json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, Runtime.Metrics.Predictions);
    }

    private async Task<HttpResponseMessage> Post(string path, byte[] body, string contentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await _http.PostAsync(path, content);
    }
}
