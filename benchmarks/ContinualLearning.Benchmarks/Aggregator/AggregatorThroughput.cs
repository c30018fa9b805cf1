using System.Globalization;
using ContinualLearning.Aggregator;
using ContinualLearning.TestKit;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>
/// End-to-end aggregator throughput through a real Mosquitto: N simulated device connections each publish D encoded
/// deltas (QoS 1) on their own delta topic; one aggregator validates, persists and aggregates every K. Reports accepted
/// deltas per second from the first publish to the last acceptance. Side by side in one run, alternating on fresh
/// brokers and registries: the acknowledgement after each delta's own commit (<c>per-delta</c>, <c>inbox:batchMax</c> = 1)
/// and group commit (<c>group</c>: up to 256 deltas per transaction, acknowledged after its commit), on SQLite
/// (synchronous = FULL) and PostgreSQL (a server of its own, fsync and synchronous_commit on), with the ratio of their means.
/// Run: <c>dotnet run -c Release --project benchmarks/ContinualLearning.Benchmarks -- aggregator-throughput
/// [--devices 1000] [--deltas 10] [--rounds 2] [--modes per-delta,group] [--backends sqlite,postgres] [--batch-max 256]
/// [--linger 2] [--inflight N|default] [--warmup 1|0] [--buffer 500]</c> (the first three also positionally, as before). Needs /usr/sbin/mosquitto and, for postgres,
/// PostgreSQL's initdb/pg_ctl (/usr/lib/postgresql/*/bin or $CL_POSTGRES_BIN).
/// </summary>
public static class AggregatorThroughput
{
    public static async Task<int> RunAsync(string[] args)
    {
        ThroughputSettings settings;
        try
        {
            settings = ThroughputSettings.Parse(args);
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }
        var mosquitto = MosquittoBroker.FindExecutable();
        if (mosquitto is null)
        {
            Console.Error.WriteLine("Mosquitto is not installed (sudo apt-get install mosquitto); the throughput run needs a real broker.");
            return 1;
        }
        if (settings.Backends.Contains("postgres") && PostgresServer.FindBinDirectory() is null)
        {
            Console.Error.WriteLine("PostgreSQL is not installed (sudo apt-get install postgresql-15); drop 'postgres' from --backends or install it.");
            return 1;
        }
        Console.WriteLine($"{settings.Devices} connections × {settings.DeltasPerDevice} deltas, {settings.Rounds} rounds, K = {settings.BufferSize}, modes {string.Join(',', settings.Modes)}, backends {string.Join(',', settings.Backends)}, batchMax {settings.BatchMax}, linger {settings.Linger.TotalMilliseconds} ms, Mosquitto max_inflight_messages {settings.Inflight?.ToString(CultureInfo.InvariantCulture) ?? "default (20)"}");
        Console.WriteLine($"garbage collector: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} ({Environment.ProcessorCount} cores; DOTNET_gcServer=0|1 chooses)");
        Console.WriteLine($"file descriptors: soft {FileDescriptorLimit()} (each connection takes one in this process and one in Mosquitto, which inherits the limit)");
        // MQTTnet's client parks a pool thread per connection in its receive path; without headroom the pool grows
        // by about one thread per half second and thousands of simulated devices take minutes just to connect.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, settings.Devices * 2 + 64), Math.Max(io, settings.Devices * 2 + 64));

        var results = new Dictionary<(string Backend, string Mode), List<ThroughputResult>>();
        await using var postgres = settings.Backends.Contains("postgres") ? await PostgresServer.StartAsync() : null;
        var run = 0;
        // Each measurement on a fresh broker and a fresh registry (a new database on the one PostgreSQL server).
        async Task<ThroughputResult?> MeasureAsync(ThroughputSettings sized, string backend, string mode)
        {
            var database = postgres is null ? null : await ThroughputRun.CreateDatabaseAsync(postgres, $"bench_{run}");
            run++;
            return await ThroughputRun.MeasureAsync(mosquitto, sized, backend == "postgres" ? database : null, mode == "group" ? settings.BatchMax : 1);
        }

        // The aggregator is a long-running service: its steady state is what counts, not the first seconds of a process
        // (JIT compilation, tier-up, pool growth). One small unreported run per backend and mode warms the code paths;
        // without it the first measurement of a process came out 30–40 % lower than the next ones.
        if (settings.Warmup)
        {
            var small = settings with { Devices = Math.Min(settings.Devices, 1000), DeltasPerDevice = 3 };
            foreach (var backend in settings.Backends)
            {
                foreach (var mode in settings.Modes)
                {
                    Console.WriteLine($"--- warm-up (not reported): {backend}, {mode}, {small.Devices} connections × {small.DeltasPerDevice}");
                    if (await MeasureAsync(small, backend, mode) is null) return 1;
                }
            }
        }
        for (var round = 0; round < settings.Rounds; round++)
        {
            foreach (var backend in settings.Backends)
            {
                foreach (var mode in settings.Modes)
                {
                    Console.WriteLine($"--- round {round + 1}/{settings.Rounds}: {backend}, {mode}");
                    var result = await MeasureAsync(settings, backend, mode);
                    if (result is null) return 1;
                    if (!results.TryGetValue((backend, mode), out var list)) results[(backend, mode)] = list = [];
                    list.Add(result.Value);
                }
            }
        }
        Console.WriteLine();
        Console.WriteLine("| backend | mode | deltas/s (mean) | rounds | batches: mean size, largest | group / per-delta |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var backend in settings.Backends)
        {
            var perDelta = results.TryGetValue((backend, "per-delta"), out var p) ? p.Average(r => r.PerSecond) : (double?)null;
            foreach (var mode in settings.Modes)
            {
                var list = results[(backend, mode)];
                var mean = list.Average(r => r.PerSecond);
                var rounds = string.Join(", ", list.Select(r => r.PerSecond.ToString("N0", CultureInfo.InvariantCulture)));
                var batches = mode == "group" ? $"{list.Average(r => r.MeanBatch):F1}, {list.Max(r => r.LargestBatch)}" : "1 (one commit per delta)";
                var ratio = mode == "group" && perDelta is { } baseline ? (mean / baseline).ToString("F2", CultureInfo.InvariantCulture) : "";
                Console.WriteLine($"| {backend} | {mode} | {mean:N0} | {rounds} | {batches} | {ratio} |");
            }
        }
        return 0;
    }

    private static string FileDescriptorLimit()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            return line is null ? "unknown" : string.Join(' ', line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3..5]) + " (soft hard)";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}

/// <summary>What one throughput run does: sizes, modes, backends and the group commit's settings.</summary>
/// <param name="Devices">Simulated device connections.</param>
/// <param name="DeltasPerDevice">Deltas each device publishes.</param>
/// <param name="Rounds">Measurements of each backend and mode, alternating.</param>
/// <param name="Modes"><c>per-delta</c> and/or <c>group</c>.</param>
/// <param name="Backends"><c>sqlite</c> and/or <c>postgres</c>.</param>
/// <param name="BatchMax">The group mode's <c>inbox:batchMax</c>.</param>
/// <param name="Linger">The group mode's <c>inbox:batchLinger</c>.</param>
/// <param name="Inflight">Mosquitto's <c>max_inflight_messages</c>, or null to leave its default (20).</param>
/// <param name="Warmup">One small unreported run per backend and mode before the measurements.</param>
/// <param name="BufferSize">The aggregator's K (<c>aggregation:bufferSize</c>): a round every K buffered deltas.</param>
internal sealed record ThroughputSettings(int Devices, int DeltasPerDevice, int Rounds, IReadOnlyList<string> Modes, IReadOnlyList<string> Backends, int BatchMax, TimeSpan Linger, int? Inflight, bool Warmup = true, int BufferSize = 500)
{
    private static readonly string[] KnownModes = ["per-delta", "group"];
    private static readonly string[] KnownBackends = ["sqlite", "postgres"];

    public static ThroughputSettings Parse(string[] args)
    {
        var positional = new List<string>();
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) positional.Add(args[i]);
            else if (i + 1 < args.Length) named[args[i][2..]] = args[++i];
            else throw new FormatException($"{args[i]} needs a value.");
        }
        string? Arg(string name, int position) => named.TryGetValue(name, out var v) ? v : position < positional.Count ? positional[position] : null;
        int Number(string name, int position, int fallback) => Arg(name, position) is { } v
            ? int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"--{name} '{v}' is not a positive whole number.")
            : fallback;
        IReadOnlyList<string> List(string name, string[] known)
        {
            var values = (Arg(name, int.MaxValue) ?? string.Join(',', known)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var v in values)
                if (!known.Contains(v)) throw new FormatException($"--{name} '{v}' is not one of {string.Join(", ", known)}.");
            return values;
        }
        return new ThroughputSettings(
            Number("devices", 0, 1000),
            Number("deltas", 1, 10),
            Number("rounds", 2, 2),
            List("modes", KnownModes),
            List("backends", KnownBackends),
            Number("batch-max", int.MaxValue, InboxOptions.DefaultBatchMax),
            TimeSpan.FromMilliseconds(Number("linger", int.MaxValue, 2)),
            Arg("inflight", int.MaxValue) == "default" ? null : Number("inflight", int.MaxValue, 20),
            Arg("warmup", int.MaxValue) switch
            {
                null or "1" => true,
                "0" => false,
                var v => throw new FormatException($"--warmup '{v}' is not 0 or 1."),
            },
            Number("buffer", int.MaxValue, 500));
    }
}
