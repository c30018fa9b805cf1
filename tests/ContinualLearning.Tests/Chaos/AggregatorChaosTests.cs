using System.Data.Common;
using System.Diagnostics;
using System.Text;

namespace ContinualLearning.Tests.Chaos;

/// <summary>The chaos run takes the machine: 3 aggregator processes, Mosquitto and PostgreSQL on 2 cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection
{
    public const string Name = "Chaos (runs alone)";
}

/// <summary>
/// Issue 13's chaos test: real <c>cl aggregator run</c> processes, each with its own working directory, coordinated only
/// through the registry database, behind a shared subscription on a real Mosquitto. A simulated fleet sends deltas
/// with known ids at a steady rate and reports canary telemetry while a seeded schedule kill -9s a random aggregator
/// every 3–5 s (restarted after 1 s with the same instance id), restarts Mosquitto once and crashes PostgreSQL once.
/// Then, with the faults stopped and everything drained, SQL on the registry must show 0 lost, 0 double-counted, one
/// chain of versions and no canary decided twice. Sizes: <see cref="ChaosSettings"/>.
/// </summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Chaos")]
public sealed class AggregatorChaosTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Aggregators_killed_at_random_lose_nothing_count_nothing_twice_and_keep_one_chain()
    {
        TestDependency.Mosquitto.Require(MosquittoBroker.FindExecutable() is not null);
        TestDependency.Postgres.Require(PostgresServer.FindBinDirectory() is not null);
        var settings = ChaosSettings.FromEnvironment();
        Log($"chaos: {settings}");
        var rng = new Random(settings.Seed);
        var clock = Stopwatch.StartNew();
        var root = Directory.CreateTempSubdirectory("cl-chaos-").FullName;
        var passed = false;

        using var kit = AggregatorTestKit.ForBrokerTests();
        await using var postgres = await PostgresServer.StartAsync();
        // Subscriptions in the broker log: whether the shared subscription is there again after the broker restart.
        await using var broker = await MosquittoBroker.StartAsync("log_type subscribe\nlog_type unsubscribe");
        var registry = ChaosRegistry.Create(kit, postgres, root);
        Log($"chaos: PostgreSQL and Mosquitto up, registry seeded ({ChaosRegistry.Backend}) after {clock.Elapsed.TotalSeconds:F1} s");

        var aggregators = new List<AggregatorProcess>();
        try
        {
            var cli = AggregatorProcess.FindCli();
            var canaries = ChaosFleet.CanaryCohort(settings);
            for (var i = 0; i < settings.Aggregators; i++)
            {
                var id = $"agg-{i}";
                var dir = Directory.CreateDirectory(Path.Combine(root, id)).FullName;
                File.Copy(kit.PrivateKeyPath, Path.Combine(dir, "release.key"));
                var config = Path.Combine(dir, "aggregator.json");
                File.WriteAllText(config, ChaosConfig.Aggregator(id, dir, broker.Port, registry, canaries));
                var process = new AggregatorProcess(id, dir, config, cli);
                aggregators.Add(process);
                process.Start();
            }
            await WaitUntil(() => aggregators.All(a => File.Exists(a.LogPath) && File.ReadAllText(a.LogPath).Contains(" serving ", StringComparison.Ordinal)),
                "every aggregator logged that it is serving", TimeSpan.FromSeconds(60));
            Log($"chaos: {aggregators.Count} aggregators serving after {clock.Elapsed.TotalSeconds:F1} s");

            await using var fleet = new ChaosFleet(kit, settings, broker.Port);
            await fleet.StartAsync(TestContext.Current.CancellationToken);
            using var stopFaults = new CancellationTokenSource();
            var faults = new ChaosFaults(aggregators, broker, postgres, new Random(rng.Next()), settings.LoadDuration, Log);
            var faulting = faults.RunAsync(stopFaults.Token);

            var loadStart = clock.Elapsed;
            await fleet.SendDeltasAsync(rng, n => Log($"chaos: {n} deltas sent at {clock.Elapsed.TotalSeconds:F1} s ({fleet.Republished} re-published)"), TestContext.Current.CancellationToken);
            var loadTook = clock.Elapsed - loadStart;
            await stopFaults.CancelAsync();
            await faulting;
            await faults.EnsureAllRunningAsync();
            Log($"chaos: {fleet.Acked} deltas acknowledged by the broker in {loadTook.TotalSeconds:F1} s; faults: {faults}");

            var drainStart = clock.Elapsed;
            var drained = await DrainAsync(registry, fleet.Sent.Count, settings.DrainPatience);
            var drainTook = clock.Elapsed - drainStart;
            // Let an outbox publish of the last decision reach the wire before comparing.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var lastOnWire = fleet.Releases.LastOrDefault();
            RegistryAudit audit;
            await using (var connection = await registry.OpenAsync())
                audit = RegistryAudit.Read(connection, AggregatorTestKit.Model);
            var findings = audit.Check(fleet.Sent.Keys.ToHashSet(StringComparer.Ordinal), lastOnWire.Cohort == "all" ? lastOnWire.Version : null).ToList();
            if (!drained) findings.Insert(0, $"not drained within {settings.DrainPatience.TotalSeconds:0} s");

            Log($"chaos summary: {settings}; kills {aggregators.Sum(a => a.Kills)}, unexpected exits {aggregators.Sum(a => a.UnexpectedExits.Count)} "
                + $"[{string.Join("; ", aggregators.Where(a => a.UnexpectedExits.Count > 0).Select(a => $"{a.InstanceId}: codes {string.Join(",", a.UnexpectedExits)}"))}], "
                + $"{faults}; {fleet.Acked} deltas sent, {fleet.Republished} re-published ({fleet.NoSubscribers} PUBACKs said no matching subscribers); {audit.Summary()}; "
                + $"releases on the wire {fleet.Releases.Count}; load {loadTook.TotalSeconds:F1} s, drain {drainTook.TotalSeconds:F1} s, total {clock.Elapsed.TotalSeconds:F1} s");
            foreach (var f in fleet.Failures.Take(5)) Log($"chaos fleet: {f}");
            if (findings.Count > 0)
            {
                Dump(aggregators, postgres, broker, root);
                Trace(audit.Unaccounted(fleet.Sent.Keys).Take(5), aggregators);
                Assert.Fail($"chaos run failed ({settings}):\n  " + string.Join("\n  ", findings.Take(40)));
            }
            passed = true;
        }
        finally
        {
            foreach (var a in aggregators) await a.DisposeAsync();
            if (passed)
            {
                try { Directory.Delete(root, recursive: true); } catch (IOException) { }
            }
            else
            {
                Log($"chaos: kept {root} (aggregator logs in */aggregator.log)");
            }
        }
    }

    /// <summary>Waits until every sent id was accepted, nothing is pending and no version is undecided; false when the patience runs out.</summary>
    private async Task<bool> DrainAsync(ChaosRegistry registry, int sent, TimeSpan patience)
    {
        var watch = Stopwatch.StartNew();
        (int Pending, int Open, int Seen) last = default;
        while (watch.Elapsed < patience)
        {
            try
            {
                await using var connection = await registry.OpenAsync();
                last = RegistryAudit.Progress(connection, AggregatorTestKit.Model);
                if (last.Seen >= sent && last.Pending == 0 && last.Open == 0) return true;
            }
            catch (DbException ex)
            {
                Log($"chaos: drain poll failed: {ex.Message}");
            }
            await Task.Delay(500);
        }
        Log($"chaos: drain timed out: {last.Seen} of {sent} ids seen, {last.Pending} pending, {last.Open} versions undecided");
        return false;
    }

    private void Dump(List<AggregatorProcess> aggregators, PostgresServer postgres, MosquittoBroker broker, string root)
    {
        var sb = new StringBuilder();
        foreach (var a in aggregators)
        {
            sb.AppendLine($"----- {a.InstanceId}: {a.LogPath} (last 80 lines)");
            sb.AppendLine(a.Tail(80));
        }
        var pgLog = Path.Combine(root, "postgres.log");
        File.WriteAllText(pgLog, postgres.ReadLog());
        File.WriteAllText(Path.Combine(root, "mosquitto.log"), broker.ReadLog());
        sb.AppendLine($"----- PostgreSQL log: {pgLog}; Mosquitto log: {Path.Combine(root, "mosquitto.log")}");
        Log(sb.ToString());
    }

    /// <summary>Every log line naming a lost delta id, from every instance: who accepted it, if anyone did.</summary>
    private void Trace(IEnumerable<string> lost, List<AggregatorProcess> aggregators)
    {
        foreach (var id in lost)
        {
            var lines = aggregators.SelectMany(a => File.ReadLines(a.LogPath).Where(l => l.Contains(id, StringComparison.Ordinal)).Select(l => $"{a.InstanceId}: {l}")).ToArray();
            Log($"chaos: lost {id}: {(lines.Length == 0 ? "in no aggregator log (never delivered to one)" : string.Join(" | ", lines.Select(l => l.Length > 300 ? l[..300] : l)))}");
        }
    }

    private void Log(string line)
    {
        output.WriteLine(line);
        // Also on the console: a CI log shows the seed and progress even when the runner hides passing tests' output.
        Console.WriteLine(line);
    }
}
