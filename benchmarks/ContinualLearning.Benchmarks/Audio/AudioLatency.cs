using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using ContinualLearning.Audio;
using ContinualLearning.Bundle;
using ContinualLearning.Device;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Device.Serving;
using ContinualLearning.Onnx;
using ContinualLearning.Training;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace ContinualLearning.Benchmarks.Audio;

/// <summary>
/// Latency of one prediction on a 1 s, 16 kHz clip through the audio pipeline (mel spectrogram → speech embedding →
/// pooled → head), measured three ways on a base keyword bundle (192→64→10 head): the pipeline alone
/// (<see cref="Pipelines.IInputPipeline.Embed"/>: clips/s embedded), <c>ContinualLearner.Predict(pcm)</c> in process
/// (pipeline + head + the prediction row in the transient store), and <c>POST /predict</c> with a WAV body through the
/// daemon's real <see cref="LocalApi"/> on Kestrel (loopback, one kept-alive connection). ONNX Runtime runs each stage
/// with one intra-op thread (InputPipelineFactory's setting); run the process under <c>taskset -c 0</c> to hold it
/// to one core. Reports p50, p99, mean and max per path.
/// Run: <c>taskset -c 0 dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- audio-latency [iterations]</c>.
/// </summary>
public static class AudioLatency
{
    private static readonly string[] Words = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"];

    public static async Task<int> RunAsync(string[] args)
    {
        var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1000;
        var root = Directory.CreateTempSubdirectory("cl-audio-latency-").FullName;
        try
        {
            var bundleDir = Path.Combine(root, "bundle");
            SpeechBundleBuilder.Save(bundleDir, new SpeechBundleOptions { Name = "kws", LabelNames = Words });
            var clip = Clip(16_000, seed: 5);
            Console.WriteLine($"cores visible: {Environment.ProcessorCount}; iterations per path: {iterations} (after {Warmup(iterations)} warm-up)");
            Console.WriteLine($"bundle: {Describe(bundleDir)}");

            using (var pipeline = InputPipelineFactory.Create(ModelBundle.Load(bundleDir)))
            {
                var embedding = new float[pipeline.OutputSize];
                Report("pipeline.Embed (mel + embedding + pool)", Measure(iterations, () => pipeline.Embed(clip, embedding)), clipsPerSecond: true);
            }

            await using var runtime = new DeviceRuntime(new DeviceOptions
            {
                DeviceId = "bench",
                Fleet = "bench",
                ModelName = "kws",
                FleetPublicKeyPath = Path.Combine(root, "unused.pub"),
                DataDirectory = Path.Combine(root, "data"),
                InitialBundle = bundleDir,
                TransientStorePath = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : root, $"cl-audio-latency-{Environment.ProcessId}.db"),
                AllowPersistentStore = !Directory.Exists("/dev/shm"),
                DeleteStoreOnStop = true,
                Engine = EngineChoice.Managed,
                HttpPort = null,
            }, new ManagedEngine());
            await runtime.OpenAsync();
            var learner = runtime.Learner ?? throw new InvalidOperationException("the runtime opened no learner");
            var local = learner.Predict(clip);
            Report("ContinualLearner.Predict(pcm) in process", Measure(iterations, () => learner.Predict(clip)));

            await using var app = await StartApiAsync(runtime);
            var address = ContinualLearning.Device.Hosting.DeviceHost.HttpAddress(app)!;
            using var http = new HttpClient { BaseAddress = address };
            var wav = WavWriter.Pcm16Mono(clip, 16_000);
            var remote = await PostAsync(http, wav);
            // The same clip must give the same answer over HTTP: otherwise the two paths measure different work.
            var worst = local.Probabilities.Zip(remote.Probabilities, (a, b) => Math.Abs(a - b)).Max();
            if (worst > 1e-5) throw new InvalidOperationException($"HTTP and in-process probabilities differ by {worst}");
            Report($"POST /predict, WAV body ({wav.Length:N0} B), loopback HTTP/1.1", await MeasureAsync(iterations, () => PostAsync(http, wav)));
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A seeded 1 s test clip at int16 scale: a voiced-like tone sweep in noise (the pipeline's cost does not depend on content).</summary>
    internal static float[] Clip(int samples, int seed)
    {
        var rng = new Random(seed);
        var clip = new float[samples];
        for (var i = 0; i < samples; i++)
        {
            var t = i / 16_000.0;
            var envelope = Math.Exp(-Math.Pow((t - 0.5) / 0.18, 2));
            var tone = Math.Sin(2 * Math.PI * (180 + 120 * t) * t) + 0.5 * Math.Sin(2 * Math.PI * (900 + 300 * t) * t);
            clip[i] = (float)Math.Round(8000 * envelope * tone + 300 * (rng.NextDouble() - 0.5));
        }
        return clip;
    }

    private static int Warmup(int iterations) => Math.Max(20, iterations / 10);

    private static double[] Measure(int iterations, Action action)
    {
        for (var i = 0; i < Warmup(iterations); i++) action();
        var ms = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            action();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return ms;
    }

    private static async Task<double[]> MeasureAsync(int iterations, Func<Task> action)
    {
        for (var i = 0; i < Warmup(iterations); i++) await action();
        var ms = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await action();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return ms;
    }

    private static void Report(string what, double[] ms, bool clipsPerSecond = false)
    {
        Array.Sort(ms);
        double P(double q) => ms[Math.Clamp((int)Math.Ceiling(q * ms.Length) - 1, 0, ms.Length - 1)];
        var line = string.Create(CultureInfo.InvariantCulture,
            $"| {what} | {P(0.50):0.00} | {P(0.99):0.00} | {ms.Average():0.00} | {ms[^1]:0.00} |");
        if (clipsPerSecond) line += string.Create(CultureInfo.InvariantCulture, $" {1000 / ms.Average():0} clips/s |");
        Console.WriteLine(line);
    }

    private static string Describe(string bundleDir)
    {
        var files = Directory.GetFiles(bundleDir).Select(f => new FileInfo(f)).OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();
        var head = ModelBundle.Load(bundleDir).Manifest.Head;
        return $"head {head}, {files.Sum(f => f.Length):N0} B in {files.Length} files ({string.Join(", ", files.Select(f => $"{f.Name} {f.Length:N0}"))})";
    }

    private static async Task<WebApplication> StartApiAsync(DeviceRuntime runtime)
    {
        // The daemon's own endpoints on Kestrel, without its MQTT agent (nothing to connect to here).
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxRequestBodySize = runtime.Options.Limits.SampleMaxBytes + 1L;
        });
        var app = builder.Build();
        app.MapDeviceApi(runtime, () => null);
        await app.StartAsync();
        return app;
    }

    private static async Task<PredictionResponse> PostAsync(HttpClient http, byte[] wav)
    {
        using var content = new ByteArrayContent(wav);
        content.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        using var response = await http.PostAsync(new Uri("/predict", UriKind.Relative), content);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST /predict answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<PredictionResponse>())!;
    }
}
