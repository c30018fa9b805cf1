using System.Diagnostics;
using System.Globalization;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Onnx;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Torch;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// The workload of `cl selfcheck`: prequential training rounds on a drifting stream with replay from the transient
/// store and champion/challenger promotion, the delta round trip, optionally ONNX Runtime and an MQTT publish.
/// </summary>
internal static class SelfCheckWorkload
{
    public static async Task<int> RunAsync(SelfCheckSettings s, CancellationToken ct)
    {
        var failures = new List<string>();
        var engine = CreateEngine(s.Engine);
        var spec = new HeadSpec([s.Inputs, s.Hidden, s.Classes], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { LearningRate = 3e-3f };
        SelfCheckCommand.Report("engine", engine.Name);
        SelfCheckCommand.Report("head", spec);
        SelfCheckCommand.Report("runtime", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier);

        using var champion = engine.Create(spec, options, seed: 1);
        var baseWeights = champion.GetWeights();
        var dir = s.StoreDir ?? Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY") ?? "/dev/shm";
        var dbPath = Path.Combine(dir, $"cl-selfcheck-{Environment.ProcessId}.db");
        using var store = new SampleStore(new SampleStoreOptions
        {
            DatabasePath = dbPath,
            DeleteOnDispose = true,
            FeatureCount = s.Inputs,
            LabelCount = s.Classes,
            ReplayCapacity = s.Replay,
            MaxRows = Math.Max(s.Round * 4, 1000),
        });
        SelfCheckCommand.Report("store", dbPath);

        // "Serving": the first prediction is answered. Time from process start (what a supervisor sees).
        var stream = new DriftingPrototypes(s.Inputs, s.Classes, seed: 7);
        var probe = stream.Next(1, drifted: false);
        var output = new float[s.Classes];
        champion.Predict(probe.X, 1, output);
        var started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        SelfCheckCommand.Report("ready_ms", (DateTime.UtcNow - started).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture));
        GC.Collect();
        SelfCheckCommand.Report("rss_ready_mb", Memory.Format(Memory.Read("VmRSS")));

        // Prequential rounds: test on the new round with the champion, train a challenger on it (fresh ⊕ replay),
        // promote when it beats the champion on a holdout from the same round.
        var composer = new MicroBatchComposer(spec, batchSize: 32, replayRatio: 0.5);
        var rng = new Random(11);
        var trainWatch = new Stopwatch();
        double accBeforeDrift = 0, accAtDrift = 0, accEnd = 0;
        var promotions = 0;
        long trained = 0;
        var rounds = Math.Max(1, s.Samples / s.Round);
        for (var r = 0; r < rounds; r++)
        {
            var drifted = r >= rounds / 2;
            var batch = stream.Next(s.Round, drifted);
            var holdout = stream.Next(Math.Max(50, s.Round / 5), drifted);
            var prequential = Accuracy(champion, batch, s.Classes);
            if (r == rounds / 2 - 1) accBeforeDrift = prequential;
            if (r == rounds / 2) accAtDrift = prequential;

            var labelled = new List<(float[] Features, SampleLabel Label)>(batch.Count);
            for (var i = 0; i < batch.Count; i++)
                labelled.Add((batch.X.AsSpan(i * s.Inputs, s.Inputs).ToArray(), SampleLabel.Class(batch.Y[i])));
            store.AddLabelledBatch(labelled);

            trainWatch.Start();
            var fresh = store.TakeFreshBatch(s.Round);
            using var challenger = engine.Create(spec, options, champion.GetWeights());
            for (var epoch = 0; epoch < 3; epoch++)
                foreach (var micro in composer.Compose(fresh, store.Replay, rng))
                {
                    challenger.TrainStep(micro.X, micro.Targets, micro.Count);
                    trained += micro.Count;
                }
            store.Replay.Offer(fresh);
            store.MarkUsed(fresh.Select(f => f.Id));
            trainWatch.Stop();

            if (Accuracy(challenger, holdout, s.Classes) >= Accuracy(champion, holdout, s.Classes))
            {
                champion.SetWeights(challenger.GetWeights());
                promotions++;
            }
            accEnd = Accuracy(champion, holdout, s.Classes);
        }
        SelfCheckCommand.Report("rounds", rounds);
        SelfCheckCommand.Report("samples_trained", trained);
        SelfCheckCommand.Report("train_seconds", trainWatch.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture));
        SelfCheckCommand.Report("replay_held", store.Replay.Count);
        SelfCheckCommand.Report("promotions", promotions);
        SelfCheckCommand.Report("accuracy_before_drift", accBeforeDrift.ToString("0.000", CultureInfo.InvariantCulture));
        SelfCheckCommand.Report("accuracy_at_drift", accAtDrift.ToString("0.000", CultureInfo.InvariantCulture));
        SelfCheckCommand.Report("accuracy_end", accEnd.ToString("0.000", CultureInfo.InvariantCulture));
        SelfCheckCommand.Report("rss_after_training_mb", Memory.Format(Memory.Read("VmRSS")));
        SelfCheckCommand.Report("rss_peak_mb", Memory.Format(Memory.Read("VmHWM")));
        // A naive baseline guesses one class: 1/classes. The head must learn each concept and recover after the drift.
        var chance = 1.0 / s.Classes;
        if (promotions == 0) failures.Add("no challenger was ever promoted");
        if (accEnd < Math.Max(0.6, 2 * chance)) failures.Add($"final accuracy {accEnd:0.000} is not clearly above chance ({chance:0.000})");

        // Delta against the base version, top-10% int8 with error feedback, encoded and decoded again.
        var delta = Delta.Compute(champion.GetWeights(), baseWeights);
        var compressed = new ErrorFeedback().Compress(delta, new DeltaCompressionOptions(0.1, DeltaEncoding.Int8));
        var header = new DeltaHeader("selfcheck", "1.0.0", s.DeviceId, Guid.NewGuid(), trained,
            new Dictionary<string, double> { ["accuracy"] = accEnd }, DateTimeOffset.UtcNow);
        var payload = DeltaCodec.Encode(new WeightDelta(header, compressed));
        var decoded = DeltaCodec.Decode(payload);
        var sentNorm = Delta.L2Norm(new WeightDelta(header, compressed));
        var decodedNorm = Delta.L2Norm(decoded);
        SelfCheckCommand.Report("delta_bytes", payload.Length);
        SelfCheckCommand.Report("delta_dense_bytes", delta.Sum(t => (long)t.Count * 4));
        SelfCheckCommand.Report("delta_norm", decodedNorm.ToString("0.0000", CultureInfo.InvariantCulture));
        if (decoded.Header.DeltaId != header.DeltaId || Math.Abs(sentNorm - decodedNorm) > 1e-6 * Math.Max(1, sentNorm) || decodedNorm == 0)
            failures.Add($"delta round trip changed the delta (norm {sentNorm} sent, {decodedNorm} decoded)");

        if (s.Onnx) CheckOnnx(spec, champion, stream, failures);
        if (s.Mqtt is not null) await PublishAsync(s, payload, header.DeltaId, ct);

        foreach (var failure in failures) Console.Error.WriteLine($"selfcheck FAILED: {failure}");
        SelfCheckCommand.Report("result", failures.Count == 0 ? "ok" : "failed");
        if (s.HoldSeconds > 0) await Task.Delay(TimeSpan.FromSeconds(s.HoldSeconds), ct);
        return failures.Count == 0 ? 0 : 1;
    }

    private static ITrainingEngine CreateEngine(string name) => name switch
    {
        ManagedEngine.EngineName => new ManagedEngine(),
        "torch" when TorchEngine.IsAvailable => new TorchEngine(),
        "torch" => throw new InvalidOperationException($"The torch engine is not available here: {TorchEngine.UnavailableReason}. Use --engine managed."),
        _ => throw new ArgumentException($"Unknown engine '{name}'; use 'managed' or 'torch'."),
    };

    // The exported head must give the engine's predictions through ONNX Runtime (the backbone path on a device).
    private static void CheckOnnx(HeadSpec spec, IHeadModel model, DriftingPrototypes stream, List<string> failures)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cl-selfcheck-{Environment.ProcessId}.onnx");
        try
        {
            OnnxExporter.ExportHead(spec, model.GetWeights(), path);
            using var runner = new OnnxBackbone(path);
            var batch = stream.Next(64, drifted: true);
            var viaOrt = runner.Embed(batch.X, batch.Count);
            var viaEngine = new float[batch.Count * spec.OutputSize];
            model.Predict(batch.X, batch.Count, viaEngine);
            var maxDiff = 0f;
            for (var i = 0; i < viaEngine.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(viaOrt[i] - viaEngine[i]));
            SelfCheckCommand.Report("onnx_max_abs_diff", maxDiff.ToString("E2", CultureInfo.InvariantCulture));
            if (!(maxDiff <= 1e-4f)) failures.Add($"ONNX Runtime output differs from the engine by {maxDiff}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task PublishAsync(SelfCheckSettings s, byte[] payload, Guid deltaId, CancellationToken ct)
    {
        var (host, port) = SelfCheckCommand.ParseBroker(s.Mqtt!);
        await using var client = new FleetMqttClient(new FleetMqttClientOptions
        {
            ClientId = $"{s.DeviceId}-selfcheck", Host = host, Port = port, CleanStart = true,
            Tls = s.Credentials?.Tls, Username = s.Credentials?.Username, Password = s.Credentials?.Password,
        });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await client.StartAsync(timeout.Token);
        var topic = FleetTopics.DeltaTopic(s.Fleet, s.DeviceId);
        await client.PublishAsync(topic, payload, cancellationToken: timeout.Token);
        await client.StopAsync();
        SelfCheckCommand.Report("mqtt_published", $"{topic} {payload.Length} bytes delta_id={deltaId}");
    }

    private static double Accuracy(IHeadModel model, LabelledBatch batch, int classes)
    {
        var output = new float[batch.Count * classes];
        model.Predict(batch.X, batch.Count, output);
        var correct = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var row = output.AsSpan(i * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
            if (best == batch.Y[i]) correct++;
        }
        return (double)correct / batch.Count;
    }

    /// <summary>Resident memory from /proc/self/status (Linux; what systemd's MemoryMax and `ps` count).</summary>
    private static class Memory
    {
        public static long Read(string field)
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith(field + ":", StringComparison.Ordinal))
                        return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
            catch (IOException)
            {
            }
            return -1;
        }

        public static string Format(long bytes) => bytes < 0 ? "n/a" : (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);
    }
}
