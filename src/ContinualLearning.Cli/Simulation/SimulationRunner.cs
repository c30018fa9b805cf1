using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ContinualLearning.Cli.Commands;

namespace ContinualLearning.Cli.Simulation;

/// <summary>
/// Runs <c>cl simulate</c>: the whole fleet in this process, or (<c>--processes P</c>) P copies of this executable with
/// one slice each, whose reports it merges; meanwhile it samples the aggregator, the broker and the registry.
/// </summary>
internal static class SimulationRunner
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);

    public static async Task<SimulationReport?> RunAsync(SimulationOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var time = TimeProvider.System;
        if (options.SliceOutput is { } slicePath)
        {
            using var registry = options.OpenRegistry();
            var slice = await new SimulationSlice(options, output, time, () => registry?.Deltas.States().Values.Sum()).RunAsync(cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(slicePath, JsonSerializer.Serialize(slice, CliCommon.Json), cancellationToken).ConfigureAwait(false);
            return null;
        }
        await output.WriteLineAsync($"{SimulationOptions.LearningNote}.").ConfigureAwait(false);
        await output.WriteLineAsync($"{options.InstallDescription}.").ConfigureAwait(false);
        await output.WriteLineAsync($"{options.Devices} devices on {options.BrokerHost}:{options.BrokerPort} (fleet {options.Fleet}, model {options.Model}) from {options.Processes} process(es), "
            + $"connecting at {options.ConnectRate:0}/s, then {options.Rate:0} deltas/s for {options.Duration:0} s; {(options.CaDirectory is null ? "plain TCP" : "mutual TLS, one certificate per device")}.").ConfigureAwait(false);
        using var probes = new FleetProbes(options, time);
        var before = probes.AcceptedNow();
        using var stopSampling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampler = SampleAsync(probes, output, options.ProgressInterval, stopSampling.Token);
        IReadOnlyList<SliceReport> slices;
        try
        {
            slices = options.Processes == 1
                ? [await new SimulationSlice(options, output, time, probes.AcceptedNow).RunAsync(cancellationToken).ConfigureAwait(false)]
                : await RunChildrenAsync(options, output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await stopSampling.CancelAsync().ConfigureAwait(false);
            await sampler.ConfigureAwait(false);
        }
        probes.Sample();
        var report = SimulationReport.Build(options, slices, probes, before);
        foreach (var line in report.Lines()) await output.WriteLineAsync(line).ConfigureAwait(false);
        if (options.JsonPath is { } json)
        {
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(report, CliCommon.Json), cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"wrote {json}").ConfigureAwait(false);
        }
        return report;
    }

    private static async Task SampleAsync(FleetProbes probes, TextWriter output, TimeSpan progress, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var next = progress;
        while (!stop.IsCancellationRequested)
        {
            var line = probes.Sample();
            if (clock.Elapsed >= next && line.Length > 0)
            {
                next += progress;
                await output.WriteLineAsync($"[fleet {clock.Elapsed.TotalSeconds:F0} s] {line}").ConfigureAwait(false);
            }
            try
            {
                await Task.Delay(SampleInterval, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<IReadOnlyList<SliceReport>> RunChildrenAsync(SimulationOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("cl-simulate-").FullName;
        var children = new List<(Process Process, string Report)>();
        try
        {
            for (var i = 0; i < options.Processes; i++)
            {
                var report = Path.Combine(directory, $"slice-{i}.json");
                var start = ChildStart(options with
                {
                    Slice = new SliceSpec(i, options.Processes),
                    SliceOutput = report,
                    StateDirectory = Path.Combine(options.StateDirectory, $"slice-{i}"),
                });
                var process = new Process { StartInfo = start };
                process.OutputDataReceived += (_, e) => Forward(output, e.Data);
                process.ErrorDataReceived += (_, e) => Forward(output, e.Data is null ? null : $"[slice {i}/{options.Processes} stderr] {e.Data}");
                process.Start();
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                children.Add((process, report));
            }
            await using var kill = cancellationToken.Register(() => children.ForEach(c => Kill(c.Process)));
            // A slice ends by itself after connecting, its duration and its drain; one still running well after that is
            // stuck (a broker that stopped answering, a hung disconnect), and waiting for it would hang the whole run.
            var deadline = ChildDeadline(options);
            using var overdue = new CancellationTokenSource(deadline);
            try
            {
                foreach (var (process, _) in children) await process.WaitForExitAsync(overdue.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (overdue.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                var stuck = children.Select((c, i) => (c.Process, i)).Where(c => !c.Process.HasExited).Select(c => c.i).ToArray();
                children.ForEach(c => Kill(c.Process));
                throw new CliException(
                    $"{stuck.Length} of {options.Processes} simulator processes (slices {string.Join(", ", stuck)}) were still running {deadline.TotalSeconds:F0} s after they started, longer than connecting, --duration and --drain take; they were killed. Their output is above.");
            }
            cancellationToken.ThrowIfCancellationRequested();
            var failed = children.Select((c, i) => (c.Process.ExitCode, i)).Where(c => c.ExitCode != 0).ToArray();
            if (failed.Length > 0)
                throw new CliException($"{failed.Length} of {options.Processes} simulator processes failed (slices {string.Join(", ", failed.Select(f => $"{f.i} exit {f.ExitCode}"))}); their output is above.");
            var reports = new List<SliceReport>();
            foreach (var (_, path) in children)
                reports.Add(JsonSerializer.Deserialize<SliceReport>(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false), CliCommon.Json)
                    ?? throw new CliException($"The slice report {path} is empty."));
            return reports;
        }
        finally
        {
            foreach (var (process, _) in children) process.Dispose();
            Directory.Delete(directory, recursive: true);
            if (Directory.Exists(options.StateDirectory)) Directory.Delete(options.StateDirectory, recursive: true);
        }
    }

    /// <summary>How long a slice may run: connecting its devices, --duration, --drain, and two minutes for start and stop.</summary>
    internal static TimeSpan ChildDeadline(SimulationOptions options) =>
        TimeSpan.FromSeconds(options.Devices / options.ConnectRate + options.Duration + options.Drain + 120);

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited (or never started): nothing to stop.
        }
    }

    private static void Forward(TextWriter output, string? line)
    {
        if (line is null) return;
        lock (output) output.WriteLine(line);
    }

    /// <summary>This executable again (the apphost, or `dotnet cl.dll`) with the slice's flags.</summary>
    private static ProcessStartInfo ChildStart(SimulationOptions o)
    {
        var dll = typeof(SimulationRunner).Assembly.Location;
        var apphost = Path.ChangeExtension(dll, null);
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (File.Exists(apphost)) start.FileName = apphost;
        else
        {
            start.FileName = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
            start.ArgumentList.Add(dll);
        }
        var c = CultureInfo.InvariantCulture;
        string[] args =
        [
            "simulate", "--devices", o.Devices.ToString(c), "--broker", $"{o.BrokerHost}:{o.BrokerPort}", "--fleet", o.Fleet, "--model", o.Model,
            "--release-key", Path.GetFullPath(o.ReleaseKeyPath), "--rate", o.Rate.ToString(c), "--duration", o.Duration.ToString(c), "--drain", o.Drain.ToString(c),
            "--connect-rate", o.ConnectRate.ToString(c), "--seed", o.Seed.ToString(c), "--state", o.StateDirectory,
            "--slice", o.Slice.ToString(), "--slice-out", o.SliceOutput!,
        ];
        foreach (var a in args) start.ArgumentList.Add(a);
        if (o.InstallSample is { } k)
        {
            start.ArgumentList.Add("--install-sample");
            start.ArgumentList.Add(k.ToString(c));
        }
        if (o.RegistryPath is { } registry)
        {
            start.ArgumentList.Add("--registry");
            start.ArgumentList.Add(Path.GetFullPath(registry));
        }
        // The connection string may hold a password: the environment, not the command line, carries it to the child.
        if (o.RegistryConnection is { } connection) start.Environment[SimulationOptions.RegistryConnectionVariable] = connection;
        if (o.CaDirectory is { } ca)
        {
            start.ArgumentList.Add("--ca");
            start.ArgumentList.Add(Path.GetFullPath(ca));
        }
        return start;
    }
}
