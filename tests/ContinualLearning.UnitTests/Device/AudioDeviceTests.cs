using System.Net;
using System.Text;
using System.Text.Json;
using ContinualLearning.Audio;
using ContinualLearning.Fleet.Topics;
using static ContinualLearning.UnitTests.Audio.WavBytes;

namespace ContinualLearning.UnitTests.Device;

/// <summary>An audio model behind the real HTTP API and samples topic: clips in, predictions and labelled clips out, every bad clip refused with nothing stored.</summary>
public sealed class AudioDeviceTests : IAsyncLifetime
{
    private RunningDevice _device = null!;

    private long Stored => _device.Runtime.Learner!.Status.StoredSamples;

    public async ValueTask InitializeAsync() => _device = await RunningDevice.StartAudioAsync();

    public async ValueTask DisposeAsync() => await _device.DisposeAsync();

    public static TheoryData<string, string, byte[], HttpStatusCode, string> BadRequests => new()
    {
        { "stereo", "/predict", Riff(Fmt(channels: 2), Data(Clip(1, 2_000))), HttpStatusCode.UnsupportedMediaType, "wav.fmt.channels" },
        { "44.1 kHz", "/label?label=yes", Riff(Fmt(rate: 44_100), Data(Clip(2, 2_000))), HttpStatusCode.UnsupportedMediaType, "wav.fmt.sampleRate" },
        { "8-bit", "/predict", Riff(Fmt(bits: 8), Data(Clip(3, 2_000))), HttpStatusCode.UnsupportedMediaType, "wav.fmt.bitsPerSample" },
        { "float", "/predict", Riff(Fmt(tag: 3, bits: 32), Data(Clip(4, 2_000))), HttpStatusCode.UnsupportedMediaType, "wav.fmt.formatTag" },
        { "truncated", "/predict", WavWriter.Pcm16Mono(Clip(5), 16_000)[..20_000], HttpStatusCode.BadRequest, "wav.riff.size" },
        { "data size lies", "/label?label=no", Riff(Fmt(), Chunk("data", new byte[100], size: 320_000)), HttpStatusCode.BadRequest, "wav.data.size" },
        { "no fmt", "/predict", Riff(Data(Clip(6, 2_000))), HttpStatusCode.BadRequest, "wav.fmt" },
        { "empty", "/label?label=yes", Riff(Fmt(), Data([])), HttpStatusCode.BadRequest, "wav.data" },
        { "over 10 s", "/predict", WavWriter.Pcm16Mono(new short[160_001], 16_000), HttpStatusCode.BadRequest, "wav.data" },
        { "not a wav", "/predict", "{\"features\":[1,2,3]}"u8.ToArray(), HttpStatusCode.BadRequest, "wav.riff" },
        { "no label", "/label", WavWriter.Pcm16Mono(Clip(7), 16_000), HttpStatusCode.BadRequest, "label" },
        { "blank label", "/label?label=%20", WavWriter.Pcm16Mono(Clip(8), 16_000), HttpStatusCode.BadRequest, "label" },
        { "unknown label", "/label?label=banana", WavWriter.Pcm16Mono(Clip(9), 16_000), HttpStatusCode.BadRequest, "label" },
    };

    [Fact]
    public async Task A_clip_is_predicted_labelled_by_id_and_a_labelled_clip_is_added()
    {
        using var predicted = await _device.PostAsync("/predict", WavWriter.Pcm16Mono(Clip(10), 16_000));
        Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
        using var prediction = JsonDocument.Parse(await predicted.Content.ReadAsStringAsync());
        var id = prediction.RootElement.GetProperty("sampleId").GetInt64();
        Assert.Equal(RunningDevice.Labels.Length, prediction.RootElement.GetProperty("probabilities").GetArrayLength());
        Assert.Contains(prediction.RootElement.GetProperty("label").GetString(), RunningDevice.Labels);

        using var labelled = await _device.PostAsync("/label", Encoding.UTF8.GetBytes($"{{\"sampleId\":{id},\"label\":\"no\"}}"), "application/json");
        Assert.Equal(HttpStatusCode.OK, labelled.StatusCode);

        // A short clip (0.5 s, padded by the pipeline) in WAVE_FORMAT_EXTENSIBLE with a LIST chunk, as an editor writes it.
        using var added = await _device.PostAsync("/label?label=up", Riff(Chunk("LIST", "INFOISFT\u0003\0\0\0ed\0"u8.ToArray()), FmtExtensible(), Data(Clip(11, 8_000))), "audio/x-wav");
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        using var accepted = JsonDocument.Parse(await added.Content.ReadAsStringAsync());
        Assert.True(accepted.RootElement.GetProperty("accepted").GetBoolean());
        Assert.NotEqual(id, accepted.RootElement.GetProperty("sampleId").GetInt64());

        Assert.Equal(2, Stored);
        Assert.Equal(2, _device.Runtime.Metrics.Labels);
        Assert.Equal(2, _device.Runtime.Learner!.Status.FreshSamples);
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_clip_gets_a_clear_error_and_nothing_is_stored(string name, string path, byte[] body, HttpStatusCode status, string field)
    {
        using var response = await _device.PostAsync(path, body);

        Assert.True(status == response.StatusCode, $"{name}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(field, error.RootElement.GetProperty("field").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.RootElement.GetProperty("error").GetString()));
        Assert.Equal(0, Stored);
        Assert.Equal(0, _device.Runtime.Metrics.Predictions);
        Assert.Equal(0, _device.Runtime.Metrics.Labels);
        Assert.Equal(1, _device.Runtime.Metrics.RequestsRejected);
    }

    [Fact]
    public async Task Errors_name_what_was_found_and_what_the_model_takes()
    {
        using var stereo = await _device.PostAsync("/predict", Riff(Fmt(channels: 2, rate: 48_000), Data(Clip(12, 2_000))));
        Assert.Equal(
            "The WAV is PCM 16-bit stereo 48,000 Hz; this model takes PCM16 mono 16,000 Hz. Convert it first, e.g. `sox in.wav -r 16000 -c 1 -b 16 -e signed-integer out.wav`.",
            await Error(stereo));

        using var features = await _device.PostAsync("/predict", "{\"features\":[1,2,3]}"u8.ToArray(), "application/json");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, features.StatusCode);
        Assert.Equal("A JSON feature sample was sent, but this model takes audio/wav (PCM16 mono 16,000 Hz, at most 10 s (160,000 samples)).", await Error(features));

        using var mp3 = await _device.PostAsync("/label?label=yes", [0xFF, 0xFB, 0x90, 0x00], "audio/mpeg");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, mp3.StatusCode);
        Assert.Equal("Content type 'audio/mpeg' is not accepted; this model takes audio/wav (PCM16 mono 16,000 Hz, at most 10 s (160,000 samples)).", await Error(mp3));

        using var tooLong = await _device.PostAsync("/predict", WavWriter.Pcm16Mono(new short[200_000], 16_000));
        Assert.Equal("The clip is 12.5 s (200,000 samples); this model takes at most 10 s (160,000 samples). Cut it or send it in parts.", await Error(tooLong));
        Assert.Equal(0, Stored);
    }

    [Fact]
    public async Task A_clip_over_the_body_cap_is_413_naming_the_cap_and_the_clip_limit()
    {
        // 40 s of PCM16: 1.28 MB, over the default 1 MiB cap; refused before the body is read.
        using var response = await _device.PostAsync("/predict", WavWriter.Pcm16Mono(new short[640_000], 16_000));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(
            "The body is 1280044 bytes; at most 1048576 are accepted (config key limits:sampleMaxBytes). This model takes clips of at most 10 s (160,000 samples), a WAV of at most 324096 bytes: cut the clip.",
            await Error(response));
        Assert.Equal(1, _device.Runtime.Metrics.PayloadsOversize);
        Assert.Equal(0, Stored);
    }

    [Fact]
    public async Task Clips_on_the_samples_topic_are_added_with_their_label_property_and_bad_ones_refused()
    {
        var topic = FleetTopics.Samples(_device.Kit.Fleet, _device.Kit.DeviceId);
        using var gateway = await SampleGateway.ConnectAsync(_device.BrokerPort);

        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(Clip(20), 16_000), label: "yes");
        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(Clip(21), 16_000), label: null, contentType: "audio/wave");
        await WaitUntil(() => Stored == 2);
        Assert.Equal(1, _device.Runtime.Metrics.Labels);
        Assert.Equal(1, _device.Runtime.Learner!.Status.Predictions);

        // Each refused: stereo, truncated, a blank or unknown label, JSON features, another audio type.
        await SampleGateway.PublishClipAsync(gateway, topic, Riff(Fmt(channels: 2), Data(Clip(22, 2_000))), label: "yes");
        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(Clip(23), 16_000)[..9_000], label: "yes");
        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(Clip(24), 16_000), label: " ");
        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(Clip(25), 16_000), label: "banana");
        await SampleGateway.PublishAsync(gateway, topic, "{\"features\":[1,2,3],\"label\":\"yes\"}"u8.ToArray(), contentType: null);
        await SampleGateway.PublishClipAsync(gateway, topic, [0xFF, 0xFB, 0x90, 0x00], label: "yes", contentType: "audio/mpeg");
        await WaitUntil(() => _device.Runtime.Metrics.RequestsRejected == 6);

        // One more good clip after them (messages from one client arrive in order): nothing else was stored.
        await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(Clip(26), 16_000), label: "no");
        await WaitUntil(() => Stored == 3);
        Assert.Equal(2, _device.Runtime.Metrics.Labels);
        Assert.Equal(6, _device.Runtime.Metrics.RequestsRejected);
    }

    private static async Task<string?> Error(HttpResponseMessage response)
    {
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return error.RootElement.GetProperty("error").GetString();
    }
}
