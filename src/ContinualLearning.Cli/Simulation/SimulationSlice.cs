using System.Diagnostics;
using ContinualLearning.Cli.Commands;
using ContinualLearning.Fleet;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Identity;

namespace ContinualLearning.Cli.Simulation;

/// <summary>
/// One process's share of the simulated fleet: connects its devices at a bounded rate, waits until each installed the
/// fleet's release, sends deltas at its share of the fleet's rate for the duration, then waits (up to the drain time)
/// until the newest release reached every one of its devices.
/// </summary>
/// <param name="options">The run's settings; <see cref="SimulationOptions.Slice"/> says which devices.</param>
/// <param name="output">Progress lines.</param>
/// <param name="time">The clock of the timestamps.</param>
/// <param name="acceptedDeltas">The aggregator's count of accepted deltas (its registry), or null when unknown: the drain
/// also waits until it stops growing, so that deltas still queued at the broker make it into a release the devices see.</param>
internal sealed class SimulationSlice(SimulationOptions options, TextWriter output, TimeProvider time, Func<int?>? acceptedDeltas = null)
{
    private static readonly TimeSpan FirstReleasePatience = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan QuietAfterRelease = TimeSpan.FromSeconds(5);

    /// <summary>The shortest wait for the last publishes' PUBACKs: the fleet client's default PublishTimeout, which bounds each of them anyway.</summary>
    private static readonly TimeSpan PublishTail = TimeSpan.FromSeconds(60);

    public async Task<SliceReport> RunAsync(CancellationToken cancellationToken)
    {
        var numbers = options.Slice.Devices(options.Devices).ToArray();
        // MQTTnet parks a pool thread per connection in its receive path; without the headroom the pool grows by about
        // one thread per half second and a few thousand connections take minutes.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, numbers.Length * 2 + 64), Math.Max(io, numbers.Length * 2 + 64));
        Directory.CreateDirectory(options.StateDirectory);
        var recorder = new SliceRecorder(time);
        using var context = new SimulationContext(options, recorder);
        var devices = new List<SimulatedDevice>(numbers.Length);
        try
        {
            var (connected, failures, connectSeconds) = await ConnectAsync(numbers, context, devices, cancellationToken).ConfigureAwait(false);
            await WaitAsync(() => devices.All(d => d.Installed is not null), FirstReleasePatience, "the first release", devices, recorder, cancellationToken).ConfigureAwait(false);
            if (devices.Any(d => d.Installed is null))
                throw new CliException($"{devices.Count(d => d.Installed is null)} of {devices.Count} devices received no release of {options.Model} within {FirstReleasePatience.TotalSeconds:0} s on {context.ReleaseTopic}: "
                    + "publish the seed first (`cl model publish <bundle> --key release.key --fleet …`)" + (recorder.LastRefusal is { } why ? $"; last refusal: {why}" : "."));
            var sendStart = recorder.NowMs;
            await SendAsync(devices, recorder, cancellationToken).ConfigureAwait(false);
            var sendEnd = recorder.NowMs;
            await DrainAsync(devices, recorder, cancellationToken).ConfigureAwait(false);
            return recorder.Report(options.Slice, devices.Count, connected, failures, connectSeconds, sendStart, sendEnd,
                devices.ToDictionary(d => d.Id, d => d.Installed, StringComparer.Ordinal));
        }
        finally
        {
            await Parallel.ForEachAsync(devices, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (d, _) =>
            {
                await d.Client.DisposeAsync().ConfigureAwait(false);
                d.Dispose();
            }).ConfigureAwait(false);
            try
            {
                Directory.Delete(options.StateDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task<(int Connected, int Failures, double Seconds)> ConnectAsync(int[] numbers, SimulationContext context, List<SimulatedDevice> devices, CancellationToken cancellationToken)
    {
        var authority = options.CaDirectory is null ? null : FleetCertificateAuthority.Load(options.CaDirectory);
        try
        {
            var interval = TimeSpan.FromSeconds(options.Slice.Count / options.ConnectRate);
            var clock = Stopwatch.StartNew();
            var failures = 0;
            var starts = new List<Task>(numbers.Length);
            for (var i = 0; i < numbers.Length; i++)
            {
                var id = options.DeviceId(numbers[i]);
                var client = new FleetMqttClient(ClientOptions(id, authority));
                var device = new SimulatedDevice(numbers[i], client, context);
                client.MessageReceived += device.OnMessageAsync;
                client.ConnectFailed += (_, _) => Interlocked.Increment(ref failures);
                await client.SubscribeAsync(context.ReleaseTopic, cancellationToken: cancellationToken).ConfigureAwait(false);
                devices.Add(device);
                starts.Add(client.StartAsync(cancellationToken));
                var due = interval * (i + 1) - clock.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due, time, cancellationToken).ConfigureAwait(false);
                if ((i + 1) % 1000 == 0) await output.WriteLineAsync($"[slice {options.Slice}] {i + 1}/{numbers.Length} connections started, {devices.Count(d => d.Client.IsConnected)} connected").ConfigureAwait(false);
            }
            await Task.WhenAll(starts).WaitAsync(TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
            var seconds = clock.Elapsed.TotalSeconds;
            await output.WriteLineAsync($"[slice {options.Slice}] {devices.Count} devices connected in {seconds:F1} s ({failures} failed attempts, retried)").ConfigureAwait(false);
            return (devices.Count(d => d.Client.IsConnected), failures, seconds);
        }
        catch (TimeoutException)
        {
            throw new CliException($"[slice {options.Slice}] only {devices.Count(d => d.Client.IsConnected)} of {numbers.Length} devices connected to {options.BrokerHost}:{options.BrokerPort} within 120 s after the last start: check the broker's max_connections and file-descriptor limit (docs/scale.md).");
        }
        finally
        {
            authority?.Dispose();
        }
    }

    private FleetMqttClientOptions ClientOptions(string id, FleetCertificateAuthority? authority) => new()
    {
        ClientId = id,
        Host = options.BrokerHost,
        Port = options.BrokerPort,
        // A device's session: persistent, so releases and chunks published while it reconnects still arrive.
        CleanStart = false,
        SessionExpirySeconds = 600,
        KeepAlive = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        ReceiveMaximum = 8,
        MaximumPacketSize = FleetLimits.DevicePacketBytes(),
        Tls = authority is null ? null : DeviceTls(id, authority),
    };

    /// <summary>The device's own certificate from the fleet CA, written and loaded as `cl device provision` does.</summary>
    private FleetTlsOptions DeviceTls(string id, FleetCertificateAuthority authority)
    {
        var directory = Path.Combine(options.StateDirectory, id, "identity");
        Directory.CreateDirectory(directory);
        var files = authority.IssueToFiles(new FleetIdentity(FleetRole.Device, id), directory, "device", overwrite: true);
        return FleetTlsFiles.Load(files.CaFile, files.CertificateFile, files.KeyFile, allowUntrusted: false);
    }

    private async Task SendAsync(List<SimulatedDevice> devices, SliceRecorder recorder, CancellationToken cancellationToken)
    {
        var rate = options.Rate * devices.Count / options.Devices;
        var end = TimeSpan.FromSeconds(options.Duration);
        var clock = Stopwatch.StartNew();
        var nextProgress = options.ProgressInterval;
        using var inFlight = new SemaphoreSlim(512);
        var sends = new List<Task>();
        long due = 0;
        var next = 0;
        while (clock.Elapsed < end)
        {
            var target = (long)(clock.Elapsed.TotalSeconds * rate);
            for (; due < target; due++)
            {
                var device = devices[next++ % devices.Count];
                await inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
                sends.Add(SendOneAsync(device, inFlight, cancellationToken));
            }
            if (clock.Elapsed >= nextProgress)
            {
                nextProgress += options.ProgressInterval;
                await Progress("sending", devices, recorder).ConfigureAwait(false);
                sends.RemoveAll(t => t.IsCompleted);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken).ConfigureAwait(false);
        }
        // A publish waits for its PUBACK (and for reconnects) as long as the run's token lets it: bound the tail by the
        // drain, but never below one publish timeout — the publishes of the last 20 ms are always in flight when the
        // sending ends, so `--drain 0` must still let them finish (it failed on them).
        var tail = TimeSpan.FromSeconds(Math.Max(options.Drain, PublishTail.TotalSeconds));
        try
        {
            await Task.WhenAll(sends).WaitAsync(tail, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new CliException($"[slice {options.Slice}] {sends.Count(t => !t.IsCompleted)} delta publishes were still unacknowledged by the broker {tail.TotalSeconds:0} s after the sending ended (the larger of --drain and one publish timeout): check the broker's connection and load.");
        }
    }

    private static async Task SendOneAsync(SimulatedDevice device, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        try
        {
            await device.SendDeltaAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            inFlight.Release();
        }
    }

    /// <summary>
    /// Waits until the newest release seen is installed on every device, and neither a newer release nor (when known) a
    /// newly accepted delta came for a few seconds.
    /// </summary>
    private async Task DrainAsync(List<SimulatedDevice> devices, SliceRecorder recorder, CancellationToken cancellationToken)
    {
        var quietSince = Stopwatch.StartNew();
        var newest = recorder.Newest;
        var accepted = acceptedDeltas?.Invoke();
        var lastCount = Stopwatch.StartNew();
        bool Settled()
        {
            if (lastCount.Elapsed >= TimeSpan.FromSeconds(1) && acceptedDeltas?.Invoke() is { } now)
            {
                lastCount.Restart();
                if (now != accepted) quietSince.Restart();
                accepted = now;
            }
            if (recorder.Newest != newest)
            {
                newest = recorder.Newest;
                quietSince.Restart();
            }
            return newest is { } n && devices.All(d => d.Installed == n.Version) && quietSince.Elapsed >= QuietAfterRelease;
        }
        await WaitAsync(Settled, TimeSpan.FromSeconds(options.Drain), "the newest release on every device", devices, recorder, cancellationToken).ConfigureAwait(false);
    }

    private async Task WaitAsync(Func<bool> done, TimeSpan patience, string what, List<SimulatedDevice> devices, SliceRecorder recorder, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var nextProgress = options.ProgressInterval;
        while (!done() && clock.Elapsed < patience)
        {
            if (clock.Elapsed >= nextProgress)
            {
                nextProgress += options.ProgressInterval;
                await Progress($"waiting for {what}", devices, recorder).ConfigureAwait(false);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task Progress(string phase, List<SimulatedDevice> devices, SliceRecorder recorder)
    {
        var newest = recorder.Newest?.Version;
        var onNewest = newest is null ? 0 : devices.Count(d => d.Installed == newest);
        return output.WriteLineAsync($"[slice {options.Slice}] {phase}: {devices.Count(d => d.Client.IsConnected)}/{devices.Count} connected, "
            + $"newest release {newest ?? "-"} on {onNewest}, deltas sent {recorder.PublishedCount} ({recorder.PublishFailures} failed), refusals {recorder.Refusals}");
    }
}
