using System.Diagnostics;
using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Tensors;
using ContinualLearning.TestKit;
using ContinualLearning.Training;
using Npgsql;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>One measurement: accepted deltas per second, and the sizes of the batches the group commit made.</summary>
internal readonly record struct ThroughputResult(double PerSecond, double MeanBatch, int LargestBatch);

/// <summary>One measurement of <see cref="AggregatorThroughput"/> on a fresh broker and registry.</summary>
internal static class ThroughputRun
{
    /// <summary>
    /// The broker as the bench runs it. <c>max_inflight_messages</c> (default 20) is left alone unless --inflight sets it:
    /// towards an MQTT 5 client Mosquitto 2.0.11 keeps up to the client's Receive Maximum un-acknowledged (the aggregator
    /// announces 1,024), and batches of the full 256 occur with the default (measured). <c>max_queued_messages</c>
    /// (default 1,000) would drop deltas queued for a busy aggregator; <c>max_connections -1</c> is the default (no cap)
    /// written out. Each connection takes a file descriptor in Mosquitto, which inherits this process's limit.
    /// </summary>
    public static string BrokerConfig(int port, string root, int? inflight) =>
        $"listener {port} 127.0.0.1\nallow_anonymous true\nuser {Environment.UserName}\nmax_connections -1\nmax_queued_messages 1000000\n"
        + (inflight is { } n ? $"max_inflight_messages {n}\n" : "") + $"log_dest file {root}/mosquitto.log\n";

    /// <summary>A new, empty database on <paramref name="server"/>: a fresh registry per measurement.</summary>
    public static async Task<string> CreateDatabaseAsync(PostgresServer server, string name)
    {
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = name, Pooling = true }.ConnectionString;
    }

    /// <summary>Accepted deltas per second, or null when it could not run or not every delta was accepted.</summary>
    public static async Task<ThroughputResult?> MeasureAsync(string mosquitto, ThroughputSettings settings, string? postgres, int batchMax)
    {
        var devices = settings.Devices;
        var perDevice = settings.DeltasPerDevice;
        var root = Directory.CreateTempSubdirectory("cl-agg-throughput-").FullName;
        var port = MosquittoBroker.FreePort();
        File.WriteAllText(Path.Combine(root, "mosquitto.conf"), BrokerConfig(port, root, settings.Inflight));
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
            var location = postgres is null ? RegistryLocation.Sqlite(Path.Combine(root, "registry")) : RegistryLocation.Postgres(postgres, Path.Combine(root, "registry"));
            using (var registry = ModelRegistry.Open(location))
                RegistryModels.Import(registry, Path.Combine(root, "seed"), VersionStatus.Released);
            using (var key = ReleaseKeys.Generate()) ReleaseKeys.Save(key, Path.Combine(root, "release.key"), Path.Combine(root, "release.pub"));

            await using var service = new AggregatorService(new AggregatorOptions
            {
                Fleet = "bench",
                ModelName = "bench",
                RegistryPath = Path.Combine(root, "registry"),
                RegistryConnectionString = postgres,
                PrivateKeyPath = Path.Combine(root, "release.key"),
                BrokerPort = port,
                InstanceId = "agg-bench",
                SharedSubscription = true,
                Validation = new ValidationOptions { MaxStaleness = 1000, MaxNorm = null },
                Aggregation = new AggregationOptions { BufferSize = settings.BufferSize, MaxWait = TimeSpan.FromSeconds(10), MaxPending = 1_000_000, MaxPendingPerDevice = 1000 },
                Rollout = new RolloutOptions { Canary = false },
                Inbox = new InboxOptions { BatchMax = batchMax, BatchLinger = settings.Linger },
            });
            await service.StartAsync();

            Console.WriteLine($"Connecting {devices} device clients to Mosquitto on 127.0.0.1:{port} ...");
            var clients = new FleetMqttClient[devices];
            var connect = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, devices), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
            {
                clients[i] = new FleetMqttClient(new FleetMqttClientOptions { ClientId = $"dev-{i}", Port = port, CleanStart = true, SessionExpirySeconds = 0, KeepAlive = TimeSpan.FromSeconds(300) });
                await clients[i].StartAsync(ct);
            });
            Console.WriteLine($"Connected in {connect.Elapsed.TotalSeconds:F1} s");

            // Encode up front so the measurement is the aggregator path, not device-side compression.
            var payloads = Payloads(head, devices, perDevice);
            var total = devices * perDevice;
            Console.WriteLine($"{total} deltas of {payloads[0][0].Length} bytes each");

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
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
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var versions = service.Registry.ListVersions("bench").Count - 1;
            var batcher = service.Batcher;
            var meanBatch = batcher is { Batches: > 0 } b ? (double)b.Deltas / b.Batches : 1;
            Console.WriteLine($"published in {published.TotalSeconds:F1} s; accepted {service.Counters.Accepted}, rejected {service.Counters.TotalRejected} in {elapsed.TotalSeconds:F1} s ({service.Registry.Backend})");
            Console.WriteLine($"throughput: {service.Counters.Accepted / elapsed.TotalSeconds:N0}/s, {versions} aggregations (K = {settings.BufferSize}); bench process CPU {cpuSeconds:F1} s"
                + (batcher is null ? "; one transaction per delta" : $"; {batcher.Batches} batches, mean {meanBatch:F1}, largest {batcher.Largest}, storing {batcher.StoreTime.TotalSeconds:F2} s, acknowledging {batcher.AcknowledgeTime.TotalSeconds:F2} s"));
            await Parallel.ForEachAsync(clients, async (c, _) => await c.DisposeAsync());
            return service.Counters.Accepted < total ? null : new ThroughputResult(service.Counters.Accepted / elapsed.TotalSeconds, meanBatch, batcher?.Largest ?? 1);
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

    private static byte[][][] Payloads(HeadSpec head, int devices, int perDevice)
    {
        var rng = new Random(1);
        return Enumerable.Range(0, devices).Select(d => Enumerable.Range(0, perDevice).Select(_ =>
        {
            var dense = head.Parameters().Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Range(0, p.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.01f).ToArray())).ToArray();
            var tensors = DeltaCompressor.Compress(dense, DeltaCompressionOptions.DenseInt8);
            return DeltaCodec.Encode(new WeightDelta(new DeltaHeader("bench", "1.0.0", $"dev-{d}", Guid.NewGuid(), 32, new Dictionary<string, double>(), DateTimeOffset.UtcNow), tensors));
        }).ToArray()).ToArray();
    }
}
