using System.Buffers.Binary;
using System.Diagnostics;
using ContinualLearning.Audio;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Onnx;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Tests.Device;

/// <summary>
/// WAV clips on the samples topic through a real Mosquitto, sent exactly as docs/protocol.md ("Samples topic") says:
/// <c>mosquitto_pub -V 5 -D publish content-type audio/wav -D publish user-property label yes -f clip.wav</c>.
/// </summary>
public sealed class AudioSamplesMosquittoTests : IAsyncLifetime
{
    private static readonly TestDependency Speech = new("the speech models (melspectrogram.onnx, embedding_model.onnx)", "CL_REQUIRE_SPEECH",
        "build the test project (UsesSpeechModels copies them to speech-models/) or run build/speech-models.sh DIR and set CL_SPEECH_MODELS=DIR");

    private MosquittoBroker _broker = null!;
    private DeviceTestKit _kit = null!;
    private WebApplication? _app;

    public async ValueTask InitializeAsync()
    {
        if (TestDependency.Mosquitto.SkipReason(MosquittoBroker.FindExecutable() is not null) is not null) return;
        _broker = await MosquittoBroker.StartAsync();
        _kit = new DeviceTestKit(_broker.Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        if (_broker is not null) await _broker.DisposeAsync();
        _kit?.Dispose();
    }

    [MosquittoFact]
    public async Task Clips_published_with_mosquitto_pub_are_labelled_predicted_or_refused()
    {
        var models = SpeechModels.TryLocate();
        Speech.Require(models is not null);
        var bundle = Path.Combine(_kit.Root, "bundles", "keywords");
        SpeechBundleBuilder.Save(bundle, new SpeechBundleOptions { Name = "keywords", LabelNames = ["yes", "no"], SpeechModelDirectory = models });
        _kit.Options = _kit.Options with { ModelName = "keywords", InitialBundle = bundle };
        _app = DeviceHost.Build(_kit.Options, configureLogging: l => l.ClearProviders());
        await _app.StartAsync();
        var service = _app.Services.GetRequiredService<DeviceService>();
        // Connected and subscribed (IsConnected turns true before the samples topic is subscribed).
        await WaitUntil(() => service.Agent is not null);
        await service.Agent!.WaitUntilConnectedAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var learner = service.Runtime.Learner!;

        var labelled = Write("labelled.wav", WavWriter.Pcm16Mono(Tone(16_000, 440), 16_000));
        var unlabelled = Write("unlabelled.wav", WavWriter.Pcm16Mono(Tone(12_000, 880), 16_000));
        var stereo = WavWriter.Pcm16Mono(Tone(4_000, 220), 16_000);
        BinaryPrimitives.WriteUInt16LittleEndian(stereo.AsSpan(22), 2); // the channel count: now a stereo header
        var refused = Write("stereo.wav", stereo);

        // "Connected" comes before the agent's subscriptions, and Mosquitto drops what nobody subscribes to yet:
        // send the unlabelled clip until one is predicted.
        for (var attempt = 0; learner.Status.Predictions == 0; attempt++)
        {
            Assert.True(attempt < 30, $"no clip predicted after {attempt} publishes; broker log:\n{_broker.ReadLog()}");
            await PublishAsync(unlabelled);
            await Task.Delay(500);
        }
        var predicted = learner.Status.Predictions;
        await PublishAsync(labelled, "-D", "publish", "user-property", "label", "yes");
        await PublishAsync(refused, "-D", "publish", "user-property", "label", "yes");
        await WaitUntil(() => learner.Status.Labelled == 1 && service.Runtime.Metrics.RequestsRejected == 1);

        Assert.Equal(predicted + 1, learner.Status.StoredSamples);
        Assert.Equal(1, learner.Status.FreshSamples);
        Assert.Equal(0, service.Runtime.Metrics.PayloadsOversize);
    }

    private string Write(string name, byte[] wav)
    {
        var path = Path.Combine(_kit.Root, name);
        File.WriteAllBytes(path, wav);
        return path;
    }

    private async Task PublishAsync(string file, params string[] extra)
    {
        var start = new ProcessStartInfo("mosquitto_pub") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])["-h", _broker.Host, "-p", _broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-V", "5", "-q", "1",
                     "-t", FleetTopics.Samples(_kit.Fleet, _kit.DeviceId), "-D", "publish", "content-type", "audio/wav", .. extra, "-f", file])
            start.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            TestDependency.Mosquitto.Require(false);
            throw;
        }
        using (process)
        {
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(DefaultPatience);
            Assert.True(process.ExitCode == 0, $"mosquitto_pub failed ({process.ExitCode}): {await error}");
        }
    }

    private static short[] Tone(int samples, double hz)
    {
        var pcm = new short[samples];
        for (var i = 0; i < samples; i++) pcm[i] = (short)Math.Round(8000 * Math.Sin(2 * Math.PI * hz * i / 16_000));
        return pcm;
    }
}
