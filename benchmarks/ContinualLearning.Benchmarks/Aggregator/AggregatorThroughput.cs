using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// End-to-end aggregator throughput through a real Mosquitto: N simulated device connections (default 1,000) each
/// publish D encoded deltas (QoS 1) on their own delta topic; one aggregator validates, persists (SQLite, synchronous
/// = FULL) and aggregates every K. Reports accepted deltas per minute from the first publish to the last acceptance.
/// Side by side in one run: the aggregator as shipped (a delta is acknowledged after it is stored) and the same with
/// acknowledgement on receipt (the path before issue 11), alternating <c>rounds</c> times each on fresh brokers and
/// registries, and the ratio of their means.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- aggregator-throughput [devices] [deltasPerDevice] [rounds]</c>.
/// Needs /usr/sbin/mosquitto (Debian package mosquitto).
/// </summary>
public static class AggregatorThroughput
{
    private static readonly string[] MosquittoPaths = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"];

    public static async Task<int> RunAsync(string[] args)
    {
        var devices = args.Length > 0 ? int.Parse(args[0]) : 1000;
        var perDevice = args.Length > 1 ? int.Parse(args[1]) : 10;
        var mosquitto = MosquittoPaths.FirstOrDefault(File.Exists);
        if (mosquitto is null)
        {
            Console.Error.WriteLine("Mosquitto is not installed (sudo apt-get install mosquitto); the throughput run needs a real broker.");
            return 1;
        }
        // MQTTnet's client parks a pool thread per connection in its receive path; without headroom the pool grows
        // by about one thread per half second and 1,000 simulated devices take minutes just to connect.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, devices * 2 + 64), Math.Max(io, devices * 2 + 64));
        var rounds = args.Length > 2 ? int.Parse(args[2]) : 2;
        var results = new Dictionary<bool, List<double>> { [true] = [], [false] = [] };
        for (var round = 0; round < rounds; round++)
        {
            foreach (var afterStore in new[] { true, false })
            {
                Console.WriteLine($"--- round {round + 1}/{rounds}: acknowledge {(afterStore ? "after store (shipped)" : "on receipt (before issue 11)")}");
                var perSecond = await MeasureAsync(mosquitto, devices, perDevice, afterStore);
                if (perSecond is null) return 1;
                results[afterStore].Add(perSecond.Value);
            }
        }
        var shipped = results[true].Average();
        var before = results[false].Average();
        Console.WriteLine($"acknowledge after store: {shipped:N0} deltas/s ({string.Join(", ", results[true].Select(r => r.ToString("N0")))}); on receipt: {before:N0} deltas/s ({string.Join(", ", results[false].Select(r => r.ToString("N0")))}); ratio {shipped / before:F3}");
        return 0;
    }

    /// <summary>One measurement on a fresh broker and registry; accepted deltas per second, or null when it could not run.</summary>
    private static async Task<double?> MeasureAsync(string mosquitto, int devices, int perDevice, bool acknowledgeAfterStore)
    {
        var root = Directory.CreateTempSubdirectory("cl-agg-throughput-").FullName;
        var port = FreePort();
        File.WriteAllText(Path.Combine(root, "mosquitto.conf"), $"listener {port} 127.0.0.1\nallow_anonymous true\nuser {Environment.UserName}\nmax_queued_messages 1000000\nmax_inflight_messages 100\nlog_dest file {root}/mosquitto.log\n");
        using var broker = Process.Start(new ProcessStartInfo(mosquitto, ["-c", Path.Combine(root, "mosquitto.conf")]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            await Task.Delay(500);
            var head = new HeadSpec([16, 32, 2], LossKind.SoftmaxCrossEntropy);
            var manifest = new ModelManifest
            {
                Name = "bench",
                Version = "1.0.0",
                CreatedUtc = DateTime.UtcNow,
                InputSchema = new InputSchema(Enumerable.Range(0, 16).Select(i => new FeatureSpec($"x{i}", 0, 1)).ToArray()),
                Task = TaskSpec.Classification("0", "1"),
                Head = head,
            };
            ModelBundle.Save(Path.Combine(root, "seed"), manifest, HeadInitializer.Initialize(head, 1));
            using (var registry = ModelRegistry.Open(Path.Combine(root, "registry")))
                RegistryModels.Import(registry, Path.Combine(root, "seed"), VersionStatus.Released);
            using (var key = ReleaseKeys.Generate()) ReleaseKeys.Save(key, Path.Combine(root, "release.key"), Path.Combine(root, "release.pub"));

            await using var service = new AggregatorService(new AggregatorOptions
            {
                Fleet = "bench",
                ModelName = "bench",
                RegistryPath = Path.Combine(root, "registry"),
                PrivateKeyPath = Path.Combine(root, "release.key"),
                BrokerPort = port,
                InstanceId = "agg-bench",
                SharedSubscription = true,
                Validation = new ValidationOptions { MaxStaleness = 1000, MaxNorm = null },
                Aggregation = new AggregationOptions { BufferSize = 500, MaxWait = TimeSpan.FromSeconds(10) },
                Rollout = new RolloutOptions { Canary = false },
                Inbox = new InboxOptions { AcknowledgeAfterStore = acknowledgeAfterStore },
            });
            await service.StartAsync();

            Console.WriteLine($"Connecting {devices} device clients to Mosquitto on 127.0.0.1:{port} ...");
            var clients = new FleetMqttClient[devices];
            var connect = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, devices), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            {
                clients[i] = new FleetMqttClient(new FleetMqttClientOptions { ClientId = $"dev-{i}", Port = port, CleanStart = true, SessionExpirySeconds = 0, KeepAlive = TimeSpan.FromSeconds(60) });
                await clients[i].StartAsync(ct);
            });
            Console.WriteLine($"Connected in {connect.Elapsed.TotalSeconds:F1} s");

            // Encode up front so the measurement is the aggregator path, not device-side compression.
            var rng = new Random(1);
            var payloads = Enumerable.Range(0, devices).Select(d => Enumerable.Range(0, perDevice).Select(_ =>
            {
                var dense = head.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Range(0, p.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.01f).ToArray())).ToArray();
                var tensors = DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseInt8);
                return DeltaCodec.Encode(new WeightDelta(new DeltaHeader("bench", "1.0.0", $"dev-{d}", Guid.NewGuid(), 32, new Dictionary<string, double>(), DateTimeOffset.UtcNow), tensors));
            }).ToArray()).ToArray();
            var total = devices * perDevice;
            Console.WriteLine($"{total} deltas of {payloads[0][0].Length} bytes each");

            var clock = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, devices), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (d, ct) =>
            {
                foreach (var p in payloads[d]) await clients[d].PublishAsync(FleetTopics.DeltaTopic("bench", $"dev-{d}"), p, cancellationToken: ct);
            });
            var published = clock.Elapsed;
            while (service.Counters.Accepted + service.Counters.TotalRejected < total)
            {
                if (clock.Elapsed > TimeSpan.FromMinutes(10)) break;
                await Task.Delay(20);
            }
            var elapsed = clock.Elapsed;
            var versions = service.Registry.ListVersions("bench").Count - 1;
            Console.WriteLine($"published in {published.TotalSeconds:F1} s; accepted {service.Counters.Accepted}, rejected {service.Counters.TotalRejected} in {elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"throughput: {service.Counters.Accepted / elapsed.TotalMinutes:N0} deltas/minute ({service.Counters.Accepted / elapsed.TotalSeconds:N0}/s), {versions} aggregations (K = 500)");
            await Parallel.ForEachAsync(clients, async (c, _) => await c.DisposeAsync());
            return service.Counters.Accepted < total ? null : service.Counters.Accepted / elapsed.TotalSeconds;
        }
        finally
        {
            broker.Kill();
            await broker.WaitForExitAsync();
            try
            {
                if (Environment.GetEnvironmentVariable("CL_KEEP") is null) Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
