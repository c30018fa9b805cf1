using System.Net;
using System.Text;
using System.Text.Json;
using ContinualLearning.Audio;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.UnitTests.Audio;
using Microsoft.Data.Sqlite;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// Data minimisation (docs/device.md, "Privacy: raw audio never stored"): after many distinct clips through every way
/// in, a training run and a checkpoint, no file of the daemon — the SQLite store with its -wal and -shm, the model store,
/// checkpoints, outbox, releases — holds any 32-byte run of any clip, as PCM16 or as float32.
/// </summary>
public sealed class AudioPrivacyTests : IAsyncLifetime
{
    private RunningDevice _device = null!;

    public async ValueTask InitializeAsync() => _device = await RunningDevice.StartAudioAsync();

    public async ValueTask DisposeAsync() => await _device.DisposeAsync();

    [Fact]
    public async Task No_file_of_the_device_holds_any_run_of_any_clip_after_predict_label_train_and_checkpoint()
    {
        var scanner = new PcmScanner();
        var seed = 1000;
        short[] NextClip()
        {
            var clip = WavBytes.Clip(seed, 16_000);
            scanner.Add($"clip {seed}", clip);
            seed++;
            return clip;
        }
        string Label(int i) => RunningDevice.Labels[i % RunningDevice.Labels.Length];

        // 12 served over HTTP and labelled by id; 12 labelled clips over HTTP; 6 labelled and 3 unlabelled over MQTT.
        for (var i = 0; i < 12; i++)
        {
            using var predicted = await _device.PostAsync("/predict", WavWriter.Pcm16Mono(NextClip(), 16_000));
            Assert.Equal(HttpStatusCode.OK, predicted.StatusCode);
            using var prediction = JsonDocument.Parse(await predicted.Content.ReadAsStringAsync());
            var id = prediction.RootElement.GetProperty("sampleId").GetInt64();
            using var labelled = await _device.PostAsync("/label", Encoding.UTF8.GetBytes($"{{\"sampleId\":{id},\"label\":\"{Label(i)}\"}}"), "application/json");
            Assert.Equal(HttpStatusCode.OK, labelled.StatusCode);
        }
        for (var i = 0; i < 12; i++)
        {
            using var added = await _device.PostAsync($"/label?label={Label(i)}", WavWriter.Pcm16Mono(NextClip(), 16_000));
            Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        }
        var topic = FleetTopics.Samples(_device.Kit.Fleet, _device.Kit.DeviceId);
        using (var gateway = await SampleGateway.ConnectAsync(_device.BrokerPort))
        {
            for (var i = 0; i < 9; i++)
                await SampleGateway.PublishClipAsync(gateway, topic, WavWriter.Pcm16Mono(NextClip(), 16_000), label: i < 6 ? Label(i) : null);
        }
        var learner = _device.Runtime.Learner!;
        await WaitUntil(() => learner.Status.StoredSamples == 33);
        Assert.Equal(33, scanner.Clips);

        var run = await _device.Runtime.TrainNowAsync("privacy test");
        Assert.NotNull(run);
        Assert.True(run.Promoted, "the run promotes (AccuracyMargin -1), so a checkpoint is written");
        Assert.NotEqual("1.0.0", learner.Status.ModelVersion);

        // While the daemon runs: the store's database, -wal and -shm are all there and open.
        var store = _device.Kit.Options.TransientStorePath!;
        Assert.True(File.Exists(store) && File.Exists(store + "-wal") && File.Exists(store + "-shm"), "the store is in WAL mode with its three files");
        AssertNoClipIn(scanner, _device.Kit.Root, "while running");

        // Stopped: the WAL checkpointed into the database, the checkpoint and outbox closed.
        await _device.StopAsync();
        AssertNoClipIn(scanner, _device.Kit.Root, "after stopping");
    }

    [Fact]
    public void The_scanner_finds_a_clip_planted_in_a_SQLite_store_or_a_file_in_either_encoding()
    {
        var scanner = new PcmScanner();
        var clip = WavBytes.Clip(seed: 77, samples: 4_000);
        scanner.Add("planted", clip);
        scanner.Add("other", WavBytes.Clip(seed: 78, samples: 4_000));
        var dir = Directory.CreateTempSubdirectory("cl-pcm-scan-").FullName;
        try
        {
            // 64 bytes of PCM16 at an odd offset of a file, and a float32 copy of part of the clip in a SQLite blob.
            var file = Path.Combine(dir, "planted.bin");
            var bytes = new byte[10_000];
            new Random(5).NextBytes(bytes);
            WavWriter.Pcm16Mono(clip, 16_000).AsSpan(WavWriter.HeaderBytes + 1000, 64).CopyTo(bytes.AsSpan(4_321));
            File.WriteAllBytes(file, bytes);
            var db = Path.Combine(dir, "planted.db");
            using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "CREATE TABLE s(x BLOB); INSERT INTO s VALUES ($b);";
                command.Parameters.AddWithValue("$b", clip.Skip(2_000).Take(500).SelectMany(s => BitConverter.GetBytes((float)s)).ToArray());
                command.ExecuteNonQuery();
            }

            Assert.Contains(scanner.Scan(file), hit => hit.EndsWith("planted (PCM16)", StringComparison.Ordinal));
            Assert.Contains(scanner.Scan(db), hit => hit.EndsWith("planted (float32)", StringComparison.Ordinal));
            Assert.DoesNotContain(scanner.Scan(db), hit => hit.Contains("other", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void AssertNoClipIn(PcmScanner scanner, string root, string when)
    {
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).ToArray();
        // The scan covers what matters: the store, the model store with its checkpoints.
        Assert.Contains(files, f => f.EndsWith("samples.db", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains($"{Path.DirectorySeparatorChar}models{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && f.EndsWith(".safetensors", StringComparison.Ordinal));
        var hits = files.SelectMany(f => ScanIfStillThere(scanner, f)).Take(5).ToArray();
        Assert.True(hits.Length == 0, $"{when}: clip audio found in {string.Join("; ", hits)} ({files.Length} files scanned)");
    }

    // While the daemon runs, a temp file (an outbox .cltmp) can be renamed between the listing and the read; the scan
    // after stopping reads it under its final name.
    private static string[] ScanIfStillThere(PcmScanner scanner, string file)
    {
        try
        {
            return [.. scanner.Scan(file)];
        }
        catch (FileNotFoundException) when (!File.Exists(file))
        {
            return [];
        }
    }
}
