using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Onnx;
using ContinualLearning.Replay;
using ContinualLearning.Storage;
using ContinualLearning.Tensors;
using ContinualLearning.Torch;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl selfcheck` (hidden): a short device-style workload that exercises every part a device needs — the training
/// engine on a drifting stream with replay from the transient SQLite store, champion/challenger promotion, the delta
/// codec, optionally ONNX Runtime and an MQTT publish — and prints `key=value` lines plus its own memory use.
/// It is what the emulated linux-arm64 check (.ci/arm64-e2e.sh) and the footprint measurements run; exit code 1
/// means a check failed.
/// </summary>
internal static class SelfCheckCommand
{
    public static Command Build()
    {
        var engine = new Option<string>("--engine") { Description = "Training engine: managed or torch.", DefaultValueFactory = _ => ManagedEngine.EngineName };
        var inputs = new Option<int>("--inputs") { Description = "Head input size (embedding width).", DefaultValueFactory = _ => 128 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden layer size.", DefaultValueFactory = _ => 256 };
        var classes = new Option<int>("--classes") { Description = "Number of classes.", DefaultValueFactory = _ => 10 };
        var samples = new Option<int>("--samples") { Description = "Stream length; the concept drifts half-way.", DefaultValueFactory = _ => 4000 };
        var round = new Option<int>("--round") { Description = "Samples per training round.", DefaultValueFactory = _ => 500 };
        var replay = new Option<int>("--replay") { Description = "Replay buffer capacity (samples).", DefaultValueFactory = _ => 10_000 };
        var storeDir = new Option<string?>("--store-dir") { Description = "Directory (tmpfs) for the transient SQLite store; default $RUNTIME_DIRECTORY or /dev/shm." };
        var onnx = new Option<bool>("--onnx") { Description = "Export the head to ONNX and run it with ONNX Runtime; compare with the engine." };
        var mqtt = new Option<string?>("--mqtt") { Description = "host:port of a broker: publish the encoded delta on cl/<fleet>/device/<id>/delta." };
        var deviceId = new Option<string>("--device-id") { Description = "Device id used in the delta header and topic.", DefaultValueFactory = _ => "selfcheck" };
        var fleet = new Option<string>("--fleet") { Description = "Fleet name used in the topic.", DefaultValueFactory = _ => "selfcheck" };
        var idle = new Option<double>("--hold-seconds") { Description = "Stay alive this long after the check (for outside RSS measurement).", DefaultValueFactory = _ => 0 };

        var command = new Command("selfcheck", "Run a short device workload (train on a drifting stream, replay, delta) and print results.")
        {
            Hidden = true,
        };
        foreach (var option in new Option[] { engine, inputs, hidden, classes, samples, round, replay, storeDir, onnx, mqtt, deviceId, fleet, idle })
            command.Options.Add(option);
        command.SetAction((parse, ct) => RunAsync(new Settings(
            parse.GetValue(engine)!, parse.GetValue(inputs), parse.GetValue(hidden), parse.GetValue(classes),
            parse.GetValue(samples), parse.GetValue(round), parse.GetValue(replay), parse.GetValue(storeDir),
            parse.GetValue(onnx), parse.GetValue(mqtt), parse.GetValue(deviceId)!, parse.GetValue(fleet)!, parse.GetValue(idle)), ct));
        command.Subcommands.Add(BuildReceive());
        command.Subcommands.Add(BuildKit());
        return command;
    }

    // `cl selfcheck receive`: the other end of `--mqtt` — waits for one delta from any device of the fleet, decodes
    // and validates it. It lets a host (x64) process check what an emulated arm64 device sent, before the aggregator exists.
    private static Command BuildReceive()
    {
        var mqtt = new Option<string>("--mqtt") { Description = "host:port of the broker.", Required = true };
        var fleet = new Option<string>("--fleet") { Description = "Fleet name in the topic.", DefaultValueFactory = _ => "selfcheck" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for a delta.", DefaultValueFactory = _ => 300 };
        var command = new Command("receive", "Wait for one delta on cl/<fleet>/device/+/delta, decode it and print its header.") { mqtt, fleet, timeout };
        command.SetAction(async (parse, ct) =>
        {
            var (host, port) = ParseBroker(parse.GetValue(mqtt)!);
            var received = new TaskCompletionSource<FleetMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var client = new FleetMqttClient(new FleetMqttClientOptions { ClientId = $"selfcheck-receiver-{Environment.ProcessId}", Host = host, Port = port, CleanStart = true });
            client.MessageReceived += message =>
            {
                received.TrySetResult(message);
                return Task.CompletedTask;
            };
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeout)));
            var topic = FleetTopics.AllDevices(parse.GetValue(fleet)!, FleetTopicKind.DeviceDelta);
            await client.StartAsync(deadline.Token);
            await client.SubscribeAsync(topic, cancellationToken: deadline.Token);
            Report("subscribed", topic);
            FleetMessage message;
            try
            {
                message = await received.Task.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"selfcheck receive: no delta arrived on '{topic}' within {parse.GetValue(timeout)} s.");
                return 1;
            }
            var delta = DeltaCodec.Decode(message.Payload);
            var values = delta.ToDense().SelectMany(t => t.Data);
            Report("received_topic", message.Topic);
            Report("received_bytes", message.Payload.Length);
            Report("received_device", delta.Header.DeviceId);
            Report("received_delta_id", delta.Header.DeltaId);
            Report("received_samples", delta.Header.SampleCount);
            Report("received_tensors", string.Join(",", delta.Tensors.Select(t => t.ToString())));
            Report("received_norm", Delta.L2Norm(delta).ToString("0.0000", CultureInfo.InvariantCulture));
            var finite = values.All(float.IsFinite);
            Report("result", finite ? "ok" : "failed");
            await client.StopAsync();
            return finite ? 0 : 1;
        });
        return command;
    }

    // `cl selfcheck kit`: what `cl device run` needs to start without an aggregator — a fleet key pair and a small
    // SEA-style base bundle (3 features → 8 → 2 classes "DOWN"/"UP") — for the emulated end-to-end run.
    private static Command BuildKit()
    {
        var output = new Option<string>("--out") { Description = "Directory to write fleet.key, fleet.pub and bundle/ into.", Required = true };
        var inputs = new Option<int>("--inputs") { Description = "Features (f1…fN); 3 gives the SEA schema (values 0–10), other widths expect standardised values (mean 0, sd 1).", DefaultValueFactory = _ => 3 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden layer size.", DefaultValueFactory = _ => 8 };
        var classes = new Option<int>("--classes") { Description = "Classes (2: DOWN/UP, else c0…cN-1).", DefaultValueFactory = _ => 2 };
        var backbone = new Option<int>("--backbone") { Description = "Embedding width of a frozen random ReLU backbone.onnx to include (0 = none: the head reads the features).", DefaultValueFactory = _ => 0 };
        var command = new Command("kit", "Write a fleet key pair and a base bundle (version 1.0.0; SEA-style by default) for a test device.") { output, inputs, hidden, classes, backbone };
        command.SetAction(parse =>
        {
            var dir = Path.GetFullPath(parse.GetValue(output)!);
            Directory.CreateDirectory(dir);
            var n = parse.GetValue(inputs);
            var k = parse.GetValue(classes);
            var embedding = parse.GetValue(backbone);
            if (embedding < 0) throw new ArgumentException($"--backbone {embedding}: the embedding width must be 0 (no backbone) or positive.");
            using (var key = ReleaseKeys.Generate())
                ReleaseKeys.Save(key, Path.Combine(dir, "fleet.key"), Path.Combine(dir, "fleet.pub"));
            var manifest = new ModelManifest
            {
                Name = "sea",
                Version = "1.0.0",
                CreatedUtc = DateTime.UtcNow,
                // SEA features are uniform on 0–10 (mean 5, sd 2.9); other widths are expected standardised already.
                InputSchema = new InputSchema(Enumerable.Range(1, n).Select(i => n == 3 ? new FeatureSpec($"f{i}", 5f, 2.9f) : new FeatureSpec($"f{i}", 0f, 1f)).ToArray(), embedding > 0 ? embedding : null),
                Task = k == 2 ? TaskSpec.Classification("DOWN", "UP") : TaskSpec.Classification(Enumerable.Range(0, k).Select(c => $"c{c}").ToArray()),
                Head = new HeadSpec([embedding > 0 ? embedding : n, parse.GetValue(hidden), k], LossKind.SoftmaxCrossEntropy),
                Training = new TrainingDefaults { Options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f }, BatchSize = 16 },
            };
            var bundle = Path.Combine(dir, "bundle");
            string? backbonePath = null;
            if (embedding > 0)
            {
                // A frozen random features→E→E ReLU layer pair, exported as ONNX (identity output): a real ONNX Runtime
                // backbone for the device to run, not a trained one.
                var backboneSpec = new HeadSpec([n, embedding, embedding], LossKind.MeanSquaredError);
                backbonePath = Path.Combine(dir, ModelManifest.BackboneFileName);
                OnnxExporter.ExportHead(backboneSpec, HeadInitializer.Initialize(backboneSpec, seed: 2), backbonePath);
            }
            ModelBundle.Save(bundle, manifest, HeadInitializer.Initialize(manifest.Head, seed: 1), backbonePath, overwrite: true);
            Report("fleet_public_key", Path.Combine(dir, "fleet.pub"));
            Report("bundle", bundle);
            return 0;
        });
        return command;
    }

    private static (string Host, int Port) ParseBroker(string value)
    {
        var parts = value.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new ArgumentException($"Broker '{value}' is not host:port (e.g. 127.0.0.1:1883).");
        return (parts[0], port);
    }

    private sealed record Settings(
        string Engine, int Inputs, int Hidden, int Classes, int Samples, int Round, int Replay, string? StoreDir,
        bool Onnx, string? Mqtt, string DeviceId, string Fleet, double HoldSeconds);

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        var failures = new List<string>();
        var engine = CreateEngine(s.Engine);
        var spec = new HeadSpec([s.Inputs, s.Hidden, s.Classes], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { LearningRate = 3e-3f };
        Report("engine", engine.Name);
        Report("head", spec);
        Report("runtime", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier);

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
        Report("store", dbPath);

        // "Serving": the first prediction is answered. Time from process start (what a supervisor sees).
        var stream = new DriftingPrototypes(s.Inputs, s.Classes, seed: 7);
        var probe = stream.Next(1, drifted: false);
        var output = new float[s.Classes];
        champion.Predict(probe.X, 1, output);
        var started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        Report("ready_ms", (DateTime.UtcNow - started).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture));
        GC.Collect();
        Report("rss_ready_mb", Memory.Format(Memory.Read("VmRSS")));

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
        Report("rounds", rounds);
        Report("samples_trained", trained);
        Report("train_seconds", trainWatch.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture));
        Report("replay_held", store.Replay.Count);
        Report("promotions", promotions);
        Report("accuracy_before_drift", accBeforeDrift.ToString("0.000", CultureInfo.InvariantCulture));
        Report("accuracy_at_drift", accAtDrift.ToString("0.000", CultureInfo.InvariantCulture));
        Report("accuracy_end", accEnd.ToString("0.000", CultureInfo.InvariantCulture));
        Report("rss_after_training_mb", Memory.Format(Memory.Read("VmRSS")));
        Report("rss_peak_mb", Memory.Format(Memory.Read("VmHWM")));
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
        Report("delta_bytes", payload.Length);
        Report("delta_dense_bytes", delta.Sum(t => (long)t.Count * 4));
        Report("delta_norm", decodedNorm.ToString("0.0000", CultureInfo.InvariantCulture));
        if (decoded.Header.DeltaId != header.DeltaId || Math.Abs(sentNorm - decodedNorm) > 1e-6 * Math.Max(1, sentNorm) || decodedNorm == 0)
            failures.Add($"delta round trip changed the delta (norm {sentNorm} sent, {decodedNorm} decoded)");

        if (s.Onnx) CheckOnnx(spec, champion, stream, failures);
        if (s.Mqtt is not null) await PublishAsync(s, payload, header.DeltaId, ct);

        foreach (var failure in failures) Console.Error.WriteLine($"selfcheck FAILED: {failure}");
        Report("result", failures.Count == 0 ? "ok" : "failed");
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
            Report("onnx_max_abs_diff", maxDiff.ToString("E2", CultureInfo.InvariantCulture));
            if (!(maxDiff <= 1e-4f)) failures.Add($"ONNX Runtime output differs from the engine by {maxDiff}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task PublishAsync(Settings s, byte[] payload, Guid deltaId, CancellationToken ct)
    {
        var (host, port) = ParseBroker(s.Mqtt!);
        await using var client = new FleetMqttClient(new FleetMqttClientOptions { ClientId = $"{s.DeviceId}-selfcheck", Host = host, Port = port, CleanStart = true });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await client.StartAsync(timeout.Token);
        var topic = FleetTopics.DeltaTopic(s.Fleet, s.DeviceId);
        await client.PublishAsync(topic, payload, cancellationToken: timeout.Token);
        await client.StopAsync();
        Report("mqtt_published", $"{topic} {payload.Length} bytes delta_id={deltaId}");
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

    private static void Report(string key, object value) => Console.WriteLine($"{key}={value}");

    private sealed record LabelledBatch(float[] X, int[] Y)
    {
        public int Count => Y.Length;
    }

    /// <summary>
    /// Gaussian clusters around one random prototype per class; after the drift half of the classes move to new
    /// prototypes (a real concept drift: the same label, different inputs), so a model must adapt without forgetting the rest.
    /// </summary>
    private sealed class DriftingPrototypes
    {
        private readonly float[][] _before;
        private readonly float[][] _after;
        private readonly Random _rng;
        private readonly int _dims;

        public DriftingPrototypes(int dims, int classes, int seed)
        {
            _dims = dims;
            _rng = new Random(seed);
            _before = Enumerable.Range(0, classes).Select(_ => Prototype()).ToArray();
            _after = _before.Select((p, c) => c % 2 == 0 ? Prototype() : p).ToArray();
        }

        public LabelledBatch Next(int count, bool drifted)
        {
            var prototypes = drifted ? _after : _before;
            var x = new float[count * _dims];
            var y = new int[count];
            for (var i = 0; i < count; i++)
            {
                y[i] = _rng.Next(prototypes.Length);
                for (var d = 0; d < _dims; d++) x[i * _dims + d] = prototypes[y[i]][d] + 0.8f * Gaussian();
            }
            return new LabelledBatch(x, y);
        }

        // Prototypes at distance ~sqrt(dims) apart keep classes separable but not trivially so at any width.
        private float[] Prototype() => Enumerable.Range(0, _dims).Select(_ => Gaussian() * 0.35f).ToArray();

        private float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble()));
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
