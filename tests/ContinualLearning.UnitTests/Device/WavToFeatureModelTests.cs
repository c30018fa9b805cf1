using System.Net;
using System.Text;
using System.Text.Json;
using ContinualLearning.Audio;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.UnitTests.Audio;

namespace ContinualLearning.UnitTests.Device;

/// <summary>A feature model behind the real HTTP API and samples topic: a WAV clip gets a 415 (or is refused on MQTT) naming what the model takes, and nothing is stored.</summary>
public sealed class WavToFeatureModelTests : IAsyncLifetime
{
    private RunningDevice _device = null!;

    public async ValueTask InitializeAsync() => _device = await RunningDevice.StartFeaturesAsync();

    public async ValueTask DisposeAsync() => await _device.DisposeAsync();

    [Theory]
    [InlineData("/predict", "audio/wav")]
    [InlineData("/predict", "audio/x-wav")]
    [InlineData("/label?label=UP", "audio/wave")]
    [InlineData("/label?label=UP", "Audio/WAV; codecs=1")]
    public async Task A_clip_to_a_feature_model_is_415_naming_JSON_features(string path, string contentType)
    {
        using var response = await _device.PostAsync(path, WavWriter.Pcm16Mono(WavBytes.Clip(seed: 1), 16_000), contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("A WAV body was sent, but this model takes JSON features (Content-Type: application/json, {\"features\": [...]}).", error.RootElement.GetProperty("error").GetString());
        Assert.Equal("contentType", error.RootElement.GetProperty("field").GetString());
        Assert.Equal(contentType, error.RootElement.GetProperty("value").GetString());
        Assert.Equal(0, _device.Runtime.Learner!.Status.StoredSamples);
        Assert.Equal(0, _device.Runtime.Metrics.Predictions);
        Assert.Equal(1, _device.Runtime.Metrics.RequestsRejected);
    }

    [Fact]
    public async Task Another_audio_encoding_is_415_naming_what_the_model_takes()
    {
        using var response = await _device.PostAsync("/predict", [0xFF, 0xFB, 0x90, 0x00], "audio/mpeg");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Content type 'audio/mpeg' is not accepted; this model takes JSON features (Content-Type: application/json, {\"features\": [...]}).", error.RootElement.GetProperty("error").GetString());
        Assert.Equal(0, _device.Runtime.Learner!.Status.StoredSamples);
    }

    [Fact]
    public async Task JSON_still_works_for_the_feature_model()
    {
        using var response = await _device.PostAsync("/predict", Encoding.UTF8.GetBytes("{\"features\":[1,2,3]}"), "application/json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, _device.Runtime.Metrics.Predictions);
    }

    [Fact]
    public async Task A_labelled_clip_on_the_samples_topic_is_refused_and_nothing_is_stored()
    {
        var topic = FleetTopics.Samples(_device.Kit.Fleet, _device.Kit.DeviceId);
        using var gateway = await SampleGateway.ConnectAsync(_device.BrokerPort);

        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(WavBytes.Clip(seed: 3), 16_000), label: "UP");
        // Messages from one client arrive in order: once the JSON sample after it is stored, the clip was handled.
        await SampleGateway.PublishAsync(gateway, topic, Encoding.UTF8.GetBytes("{\"features\":[1,2,3],\"label\":\"UP\"}"), contentType: null);
        await WaitUntil(() => _device.Runtime.Learner!.Status.StoredSamples == 1);

        Assert.Equal(1, _device.Runtime.Metrics.RequestsRejected);
        Assert.Equal(1, _device.Runtime.Metrics.Labels);
    }
}
