using System.Diagnostics;

namespace ContinualLearning.Tests.Chaos;

/// <summary>
/// The fault schedule, from a seeded RNG: every 3–5 s a kill -9 of a random running aggregator, restarted after 1 s
/// with the same instance id (its persistent MQTT session holds its share of the queued deltas); once, at about a
/// third of the load, a Mosquitto restart (SIGTERM, persistence saved); once, at about two thirds, a PostgreSQL
/// crash (immediate stop, recovery on start) with the server back 2 s later.
/// </summary>
internal sealed class ChaosFaults(IReadOnlyList<AggregatorProcess> aggregators, MosquittoBroker broker, PostgresServer postgres, Random rng, TimeSpan load, Action<string> log)
{
    private static readonly TimeSpan DatabaseDowntime = TimeSpan.FromSeconds(2);

    public int Kills { get; private set; }

    public TimeSpan? BrokerRestartTook { get; private set; }

    public TimeSpan? DatabaseOutage { get; private set; }

    public async Task RunAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var brokerAt = load * 0.35;
        var databaseAt = load * 0.65;
        var nextKill = NextKill(TimeSpan.Zero);
        while (!stop.IsCancellationRequested)
        {
            var next = new[] { nextKill, BrokerRestartTook is null ? brokerAt : TimeSpan.MaxValue, DatabaseOutage is null ? databaseAt : TimeSpan.MaxValue }.Min();
            try
            {
                if (next > clock.Elapsed) await Task.Delay(next - clock.Elapsed, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (BrokerRestartTook is null && next == brokerAt)
            {
                var started = clock.Elapsed;
                log($"chaos: restarting Mosquitto at {started.TotalSeconds:F1} s");
                await broker.RestartAsync();
                BrokerRestartTook = clock.Elapsed - started;
            }
            else if (DatabaseOutage is null && next == databaseAt)
            {
                var started = clock.Elapsed;
                log($"chaos: crashing PostgreSQL at {started.TotalSeconds:F1} s");
                await postgres.KillAsync();
                await Task.Delay(DatabaseDowntime, CancellationToken.None);
                await postgres.RestartAsync();
                DatabaseOutage = clock.Elapsed - started;
                log($"chaos: PostgreSQL back after {DatabaseOutage.Value.TotalSeconds:F1} s");
            }
            else
            {
                var running = aggregators.Where(a => a.IsRunning).ToArray();
                if (running.Length > 0)
                {
                    var victim = running[rng.Next(running.Length)];
                    await victim.KillAsync();
                    Kills++;
                    await Task.Delay(AggregatorProcess.RestartDelay, CancellationToken.None);
                    victim.Start();
                }
                nextKill = NextKill(clock.Elapsed);
            }
        }
    }

    /// <summary>After the faults stop: every instance runs again (a kill may have been the last thing that happened).</summary>
    public async Task EnsureAllRunningAsync()
    {
        foreach (var a in aggregators.Where(a => !a.IsRunning))
        {
            await Task.Delay(AggregatorProcess.RestartDelay);
            if (!a.IsRunning) a.Start();
        }
    }

    private TimeSpan NextKill(TimeSpan now) => now + TimeSpan.FromSeconds(3 + rng.NextDouble() * 2);

    public override string ToString() =>
        $"{Kills} kills, Mosquitto restart {(BrokerRestartTook is { } b ? $"{b.TotalSeconds:F1} s" : "not done")}, "
        + $"PostgreSQL outage {(DatabaseOutage is { } d ? $"{d.TotalSeconds:F1} s" : "not done")}";
}
