using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Fleet.Broker;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using ContinualLearning.Training;

namespace ContinualLearning.Cli.Demo;

/// <summary>How the demo reports progress.</summary>
internal enum DemoUi
{
    /// <summary>Spectre.Console live table (an interactive terminal).</summary>
    Live,

    /// <summary>Plain lines (stdout redirected, CI).</summary>
    Plain,

    /// <summary>Nothing (tests).</summary>
    Quiet,
}

/// <summary>The broker could not be reached or refused us; the message says which and what to do.</summary>
internal sealed class DemoBrokerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Runs the whole loop on one machine: base model and fleet signing key, a throwaway fleet CA with a certificate for
/// every client, broker (embedded with mutual TLS and the fleet ACL, or external), the aggregator, N simulated devices
/// on drifting shards, live progress, then the held-out evaluation of every global version against the no-update
/// baseline. All state lives in a temp directory that is removed at the end.
/// </summary>
internal static class DemoRunner
{
    public static async Task<DemoSummary> RunAsync(DemoOptions options, DemoUi ui, CancellationToken ct)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var root = Directory.CreateTempSubdirectory("cl-demo-").FullName;
        try
        {
            return await RunInAsync(options, ui, root, clock, ct);
        }
        finally
        {
            if (options.Keep) Console.Error.WriteLine($"State kept in {root}");
            else TryDelete(root);
        }
    }

    private static async Task<DemoSummary> RunInAsync(DemoOptions options, DemoUi ui, string root, Stopwatch clock, CancellationToken ct)
    {
        string? transientDirectory = null;
        try
        {
            return await RunCoreAsync(options, ui, root, clock, path => transientDirectory = path, ct);
        }
        finally
        {
            if (transientDirectory is not null && transientDirectory != root) TryDelete(transientDirectory);
        }
    }

    private static async Task<DemoSummary> RunCoreAsync(DemoOptions options, DemoUi ui, string root, Stopwatch clock, Action<string> useTransient, CancellationToken ct)
    {
        var engine = new ManagedEngine();
        var output = new DemoConsole(ui);
        using var world = await CreateWorldAsync(options, output, ct);
        var shards = world.Shards;
        var state = new DemoState(shards, output.OnEvent);

        // Fleet signing key as PEM files, as `cl model keygen` would leave them: the aggregator signs, devices trust the public half.
        var keys = Directory.CreateDirectory(Path.Combine(root, "keys")).FullName;
        using (var generated = ReleaseKeys.Generate())
            ReleaseKeys.Save(generated, Path.Combine(keys, "release.key"), Path.Combine(keys, "release.pub"));
        // The demo operator's key signs the aggregator's cohort commands; devices trust its public half.
        using (var generated = ReleaseKeys.Generate())
            ReleaseKeys.Save(generated, Path.Combine(keys, "operator.key"), Path.Combine(keys, "operator.pub"));
        using var signingKey = ReleaseKeys.LoadPrivate(Path.Combine(keys, "release.key"));

        var registry = Path.Combine(root, "registry");
        var baseDir = Path.Combine(root, "bundles", DemoScenario.BaseVersion);
        var baseEvent = world.SaveBase(baseDir, engine,
            m => Convert.ToBase64String(signingKey.SignData(m.CanonicalBytesForSigning(), HashAlgorithmName.SHA256)));
        var baseBundle = ModelBundle.Load(baseDir);
        state.Event(baseEvent);

        using var pki = options.Insecure ? null : DemoPki.Create(Path.Combine(root, "pki"), options.Fleet, state.Devices.Select(d => d.Id), options.CaDirectory);
        var transport = pki is null
            ? "plain TCP, no client identities (--insecure)"
            : $"mutual TLS: fleet CA {(options.CaDirectory is null ? "made for this run" : $"from {options.CaDirectory}")}, one client certificate per device, aggregator and operator";
        await using var broker = options.Broker is null
            ? new EmbeddedBroker(pki?.BrokerSecurity(options.Fleet), logger: new DemoLogger<EmbeddedBroker>(state, "broker"))
            : null;
        string host;
        int port;
        if (broker is not null)
        {
            await broker.StartAsync();
            (host, port) = ("127.0.0.1", broker.Port);
            state.Event($"embedded MQTT broker on 127.0.0.1:{port} over {transport}" + (pki is null ? "" : "; the fleet ACL checks every publish and subscription"));
        }
        else
        {
            (host, port) = options.Broker!.Value;
            await CheckReachableAsync(host, port, ct);
            state.Event($"external MQTT broker {host}:{port} over {transport}");
        }
        var template = new FleetMqttClientOptions
        {
            ClientId = "template",
            Host = host,
            Port = port,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ReconnectBaseDelay = TimeSpan.FromMilliseconds(100),
            ReconnectMaxDelay = TimeSpan.FromSeconds(2),
        };

        var (consoleOptions, operatorToken) = DemoFleetConsole.Prepare(options, keys);
        await using var aggregator = new DemoAggregator(options, host, port, pki, registry, Path.Combine(keys, "release.key"), baseDir,
            shards.Where(s => s.Canary).Select(s => s.DeviceId).ToArray(), state, Path.Combine(keys, "operator.key"), consoleOptions);
        // Labelled samples live in transient SQLite databases on tmpfs when there is one, never on flash.
        var transient = Directory.Exists("/dev/shm") && !OperatingSystem.IsWindows()
            ? Directory.CreateDirectory(Path.Combine("/dev/shm", Path.GetFileName(root))).FullName
            : Directory.CreateDirectory(Path.Combine(root, "transient")).FullName;
        useTransient(transient);
        var context = new DemoDeviceContext(options, host, port, pki, Path.Combine(keys, "release.pub"), Path.Combine(root, "devices"), baseBundle, engine, transient,
            world, Path.Combine(keys, "operator.pub"));
        var devices = state.Devices.Select(d => new DemoAgentDevice(context, d)).ToArray();
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connect.CancelAfter(TimeSpan.FromSeconds(20));
            try
            {
                await aggregator.StartAsync(connect.Token);
                await Task.WhenAll(devices.Select(d => d.ConnectAsync(connect.Token)));
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new DemoBrokerException($"Could not connect to the MQTT broker at {host}:{port} within 20 s (it accepted TCP but no MQTT 5 session was set up). Check that it speaks MQTT 5 (Mosquitto ≥ 1.6) and "
                    + (pki is null
                        ? "allows anonymous clients (--insecure)"
                        : $"listens with TLS, trusts the fleet CA of --ca (cafile), requires certificates with use_identity_as_username, and grants aggregator:{DemoPki.ServiceName} and operator:{DemoPki.ServiceName} (cl broker config)")
                    + ", or omit --broker to use the embedded broker.");
            }
            state.Event($"aggregator and {devices.Length} devices connected; canary cohort: {string.Join(", ", shards.Where(s => s.Canary).Select(s => s.DeviceId))}"
                + (options.Poison > 0 ? $"; poisoned: {string.Join(", ", shards.Where(s => s.Poisoned).Select(s => s.DeviceId))}" : ""));

            var run = Task.WhenAll(devices.Select(d => Task.Run(() => d.RunAsync(ct), ct)));
            await output.ShowWhileAsync(state, options, run);
            await run;
            state.Event("all device streams finished");
            // Deltas made in the last moments are still in the agents' outboxes or on their way; let them arrive
            // before the aggregator stops.
            for (var wait = 0; wait < 40 && devices.Any(d => d.PendingDeltas > 0); wait++) await Task.Delay(250, ct);
            var sent = state.Devices.Sum(d => d.DeltasSent);
            for (var wait = 0; wait < 40 && state.Aggregator.DeltasReceived < sent; wait++) await Task.Delay(250, ct);
            if (operatorToken is not null) await DemoFleetConsole.KeepRunningAsync(output, aggregator.ConsoleAddress, operatorToken, ct);
        }
        finally
        {
            await aggregator.StopAsync();
            foreach (var d in devices) await d.StopAsync();
            if (broker is null)
            {
                // On a shared broker, leave nothing behind: retained release, chunks and device statuses of this fleet.
                try
                {
                    using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await ClearRetainedAsync(template, pki, options, aggregator.PublishedVersions, shards, cleanup.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
                {
                    Console.Error.WriteLine($"warning: could not clear retained demo messages on {host}:{port}: {ex.Message}");
                }
            }
            foreach (var d in devices) await d.DisposeAsync();
        }

        var summary = Evaluate(options, state, aggregator, engine, world, broker is null ? $"{host}:{port} (external)" : $"embedded 127.0.0.1:{port}", clock) with
        {
            Transport = broker is { Security: not null } ? $"{transport}; broker ACL: {Denied(broker.Denials)}" : transport,
        };
        output.ShowSummary(summary);
        if (options.OutDirectory is { } outDir)
        {
            Directory.CreateDirectory(outDir);
            // After --console, Ctrl+C ended the run on purpose: the summary is still written.
            var write = operatorToken is null ? ct : CancellationToken.None;
            await File.WriteAllTextAsync(Path.Combine(outDir, "summary.json"), summary.ToJson(), write);
            await File.WriteAllTextAsync(Path.Combine(outDir, "summary.md"), summary.ToMarkdown(), write);
            output.Line($"Summary written to {Path.GetFullPath(Path.Combine(outDir, "summary.json"))} and summary.md");
        }
        return summary;
    }

    private static DemoSummary Evaluate(DemoOptions options, DemoState state, DemoAggregator aggregator, ManagedEngine engine,
        IDemoWorld world, string broker, Stopwatch clock)
    {
        // Each version's weights are read from the registry once, for the versions table and the served models alike.
        var weights = new Dictionary<(string Model, string Version), IReadOnlyList<Tensors.NamedTensor>>();
        IReadOnlyList<Tensors.NamedTensor> WeightsOf(string model, string version)
        {
            if (!weights.TryGetValue((model, version), out var w)) weights[(model, version)] = w = aggregator.Weights(model, version);
            return w;
        }
        var versions = state.Aggregator.Versions.Select(v => new VersionSummary(
            v.Model, v.Version, v.Parent, v.Outcome.ToString(), v.Deltas, v.Devices, v.Samples,
            world.Accuracy(engine, WeightsOf(v.Model, v.Version)), v.CanaryAccuracy, v.ControlAccuracy)).ToArray();
        var final = aggregator.CurrentVersion;
        var served = world is IDeviceHeldOut perDevice ? DemoServedEvaluation.Run(options, state, WeightsOf, engine, perDevice) : null;
        var a = state.Aggregator;
        var deltasSent = state.Devices.Sum(d => d.DeltasSent);
        return new DemoSummary
        {
            Broker = broker,
            Fleet = options.Fleet,
            Devices = options.Devices,
            PoisonedDevices = options.Poison,
            SamplesPerDevice = options.SamplesPerDevice,
            WallSeconds = clock.Elapsed.TotalSeconds,
            Engine = engine.Name,
            Head = world.Head.ToString(),
            Scenario = world.Description,
            HeldOutSamples = world.HeldOutSamples,
            HeldOutDescription = world.HeldOutDescription,
            HeldOutUnit = world.HeldOutUnit,
            BaselineAccuracy = versions[0].HeldOutAccuracy,
            FinalVersion = final,
            FinalAccuracy = versions.First(v => v.Model == options.ModelName && v.Version == final).HeldOutAccuracy,
            Clustering = options.Clusters,
            ServedAccuracy = served?.Accuracy,
            ServedBaselineAccuracy = served?.Baseline,
            Groups = served?.Groups ?? [],
            Clusters = options.Clusters ? DemoServedEvaluation.Clusters(aggregator, served) : [],
            Versions = versions,
            DeltasSent = deltasSent,
            DeltasReceived = a.DeltasReceived,
            DeltasAccepted = a.DeltasAccepted,
            DeltasRejected = a.DeltasRejected,
            RejectReasons = new SortedDictionary<string, int>(a.RejectReasons, StringComparer.Ordinal),
            BytesSent = state.Devices.Sum(d => d.BytesSent),
            // What the same updates would cost as full fp32 head weights.
            FullWeightBytes = deltasSent * (long)ContinualLearning.Aggregator.Strategies.ParameterVector.Length(world.Head) * sizeof(float),
            MeanDeltaNorm = state.Devices.Sum(d => d.DeltaNormCount) is var normed and > 0 ? state.Devices.Sum(d => d.DeltaNormSum) / normed : double.NaN,
            DevicePromotions = state.Devices.Sum(d => d.Promotions),
            ReleasesInstalled = state.Devices.Sum(d => d.ReleasesInstalled),
            PerDevice = served?.Devices ?? state.Devices.Select(d => d.Summary()).ToArray(),
            Components = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["learner"] = nameof(ContinualLearning.Learning.ContinualLearner),
                ["device MQTT side"] = nameof(Device.Agent.DeviceAgent) + " + " + nameof(Device.DeviceRuntime)
                    + (options.Poison > 0 ? $" (the poisoned with a {nameof(PoisonedDeltaTransport)})" : ""),
                ["aggregator"] = DemoAggregator.Component,
            },
        };
    }

    private static async Task<IDemoWorld> CreateWorldAsync(DemoOptions options, DemoConsole output, CancellationToken ct) =>
        options.Scenario switch
        {
            DemoScenarioKind.Keywords => await KeywordWorld.CreateAsync(options, output.Line, ct),
            _ => new SeaWorld(options),
        };

    /// <summary>Fails fast, with host, port and a remedy, when nothing listens where --broker points.</summary>
    private static async Task CheckReachableAsync(string host, int port, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await tcp.ConnectAsync(host, port, timeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            var why = ex is SocketException se ? se.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused: nothing listens on that port",
                SocketError.HostNotFound or SocketError.NoData => "host name not found",
                _ => se.Message,
            } : "no answer within 5 s";
            throw new DemoBrokerException(
                $"Cannot reach the MQTT broker at {host}:{port} ({why}). Start it (e.g. `mosquitto -p {port}` or `sudo systemctl start mosquitto`), " +
                "check --broker host:port, or leave --broker out to run the embedded broker.", ex);
        }
    }

    private static string Denied(BrokerDenials d) =>
        $"{d.RefusedConnections} connections refused, {d.DeniedPublishes} publishes and {d.DeniedSubscriptions} subscriptions denied";

    /// <summary>
    /// An empty retained message deletes the retained one: releases, every chunk of every published version (of the
    /// model and its clusters), the cluster directory, device statuses. Under the fleet ACL only an aggregator may clear the model topics and only a device its own status.
    /// </summary>
    private static async Task ClearRetainedAsync(FleetMqttClientOptions template, DemoPki? pki, DemoOptions options, IReadOnlyList<(string Model, string Version, int Chunks)> versions,
        IReadOnlyList<DeviceShard> shards, CancellationToken ct)
    {
        var fleet = options.Fleet;
        var model = versions.SelectMany(v => Enumerable.Range(0, v.Chunks).Select(i => FleetTopics.Chunk(fleet, v.Model, v.Version, i)))
            .Concat(versions.Select(v => v.Model).Append(options.ModelName).Distinct(StringComparer.Ordinal).Select(m => FleetTopics.Release(fleet, m)))
            .Append(FleetTopics.Clusters(fleet, options.ModelName));
        var statuses = shards.Select(s => (s.DeviceId, Topic: FleetTopics.Status(fleet, s.DeviceId)));
        var cleanup = template with { ClientId = $"{fleet}-demo-cleanup", CleanStart = true };
        if (pki is null)
        {
            await ClearAsync(cleanup, model.Concat(statuses.Select(s => s.Topic)), ct);
            return;
        }
        await ClearAsync(cleanup with { Tls = DemoPki.Tls(pki.Aggregator) }, model, ct);
        foreach (var (device, topic) in statuses)
            await ClearAsync(cleanup with { ClientId = device, Tls = DemoPki.Tls(pki.Device(device)) }, [topic], ct);
    }

    private static async Task ClearAsync(FleetMqttClientOptions options, IEnumerable<string> topics, CancellationToken ct)
    {
        await using var client = new FleetMqttClient(options);
        await client.StartAsync(ct);
        foreach (var topic in topics)
            await client.PublishAsync(topic, [], retain: true, cancellationToken: ct);
        await client.StopAsync();
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"warning: could not delete the demo's temp directory {directory}: {ex.Message}");
        }
    }
}
