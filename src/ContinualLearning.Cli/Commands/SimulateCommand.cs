using System.CommandLine;
using ContinualLearning.Cli.Simulation;

namespace ContinualLearning.Cli.Commands;

/// <summary>
/// `cl simulate`: a fleet of lightweight simulated devices against a running broker and aggregator — real MQTT
/// connections with persistent sessions, the real delta codec, the real signed-release install path; learning is a
/// stand-in (<see cref="SimulationOptions.LearningNote"/>). docs/scale.md shows a 10,000-device run.
/// </summary>
internal static class SimulateCommand
{
    public static Command Build()
    {
        var devices = new Option<int>("--devices") { Description = "Number of simulated devices.", Required = true };
        var broker = CliCommon.BrokerOption();
        var fleet = CliCommon.FleetOption();
        var model = new Option<string>("--model") { Description = "Model name (the aggregator's modelName).", DefaultValueFactory = _ => "bench" };
        var releaseKey = new Option<string>("--release-key") { Description = "The fleet's release public key (release.pub); devices verify every release against it.", Required = true };
        var processes = new Option<int>("--processes") { Description = "Simulator processes; each runs a slice of the devices (MQTTnet parks a pool thread per connection: about 2,500 connections per process).", DefaultValueFactory = _ => 1 };
        var rate = new Option<double>("--rate") { Description = "Deltas per second from the whole fleet.", DefaultValueFactory = _ => 100 };
        var duration = new Option<double>("--duration") { Description = "Seconds of sending, once every device installed the current release.", DefaultValueFactory = _ => 30 };
        var drain = new Option<double>("--drain") { Description = "Seconds at most, after the last delta, for the newest release to reach every device.", DefaultValueFactory = _ => 60 };
        var connectRate = new Option<double>("--connect-rate") { Description = "New connections per second, all processes together (stay under the listen backlog, net.core.somaxconn).", DefaultValueFactory = _ => 500 };
        var installSample = new Option<int?>("--install-sample") { Description = "Only the first k devices extract and load every bundle; the others verify the release and its chunks. Default: all devices." };
        var ca = new Option<string?>("--ca") { Description = "Fleet CA directory (ca.crt, ca.key): each device gets its own certificate and connects with mutual TLS, for a broker that enforces the fleet ACL." };
        var registry = new Option<string?>("--registry") { Description = "The aggregator's registry directory (SQLite), read for accepted deltas and which version holds which delta." };
        var registryConnection = new Option<string?>("--registry-connection") { Description = $"PostgreSQL connection string of the aggregators' registry, instead of --registry (env {SimulationOptions.RegistryConnectionVariable})." };
        var aggregatorPid = new Option<int?>("--aggregator-pid") { Description = "Process id of the aggregator, for its CPU and RSS (/proc)." };
        var brokerPid = new Option<int?>("--broker-pid") { Description = "Process id of the broker, for its open file descriptors (/proc; run as its user or root)." };
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file." };
        var seed = new Option<int>("--seed") { Description = "Seed of the simulated deltas.", DefaultValueFactory = _ => 1 };
        var state = new Option<string?>("--state") { Description = "Directory for chunks and extracted bundles (default /dev/shm/cl-sim-<pid>)." };
        var slice = new Option<string?>("--slice") { Hidden = true, Description = "i/P: run devices i, i+P, … (set by the parent process)." };
        var sliceOut = new Option<string?>("--slice-out") { Hidden = true, Description = "Where a child writes its slice report." };

        var command = new Command("simulate", "Simulate a fleet of devices (real MQTT, delta codec and signed-release install; stand-in learning) and measure the aggregator and the broker.")
        {
            devices, broker, fleet, model, releaseKey, processes, rate, duration, drain, connectRate, installSample, ca, registry, registryConnection, aggregatorPid, brokerPid, json, seed, state, slice, sliceOut,
        };
        command.SetAction((pr, ct) => CliCommon.Guard(async () =>
        {
            var (host, port) = CliCommon.ParseBroker(pr.GetValue(broker)!);
            var options = new SimulationOptions
            {
                Devices = pr.GetValue(devices),
                BrokerHost = host,
                BrokerPort = port,
                Fleet = pr.GetValue(fleet)!,
                Model = pr.GetValue(model)!,
                ReleaseKeyPath = pr.GetValue(releaseKey)!,
                Processes = pr.GetValue(processes),
                Rate = pr.GetValue(rate),
                Duration = pr.GetValue(duration),
                Drain = pr.GetValue(drain),
                ConnectRate = pr.GetValue(connectRate),
                InstallSample = pr.GetValue(installSample),
                CaDirectory = pr.GetValue(ca),
                RegistryPath = pr.GetValue(registry),
                RegistryConnection = pr.GetValue(registryConnection) ?? NonEmpty(Environment.GetEnvironmentVariable(SimulationOptions.RegistryConnectionVariable)),
                AggregatorPid = pr.GetValue(aggregatorPid),
                BrokerPid = pr.GetValue(brokerPid),
                JsonPath = pr.GetValue(json),
                Seed = pr.GetValue(seed),
                Slice = pr.GetValue(slice) is { } s ? SliceSpec.Parse(s) : SliceSpec.Whole,
                SliceOutput = pr.GetValue(sliceOut),
            };
            if (pr.GetValue(state) is { } directory) options = options with { StateDirectory = directory };
            options.Validate();
            await SimulationRunner.RunAsync(options, Console.Out, ct);
            return 0;
        }));
        var initDirectory = new Argument<string>("directory") { Description = "New directory for the seed bundle and the release key pair." };
        var init = new Command("init", "Write a small seed bundle (head 16→32→2) and a release key pair for a simulated fleet.") { initDirectory, model };
        init.SetAction((pr, ct) => CliCommon.Guard(() =>
        {
            foreach (var line in SimulationSetup.Create(pr.GetValue(initDirectory)!, pr.GetValue(model)!)) Console.WriteLine(line);
            return Task.FromResult(0);
        }));
        command.Subcommands.Add(init);
        return command;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
