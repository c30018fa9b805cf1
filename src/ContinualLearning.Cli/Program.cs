using System.CommandLine;
using ContinualLearning.Cli.Commands;

namespace ContinualLearning.Cli;

/// <summary>`cl`: one binary for the demo, the device daemon, the aggregator and fleet management.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("ContinualLearning: on-device continual learning with federated deltas over MQTT.");
        foreach (var command in Commands())
            root.Subcommands.Add(command);
        return root.Parse(args).InvokeAsync().GetAwaiter().GetResult();
    }

    // One line per command group; each group lives in Commands/<Name>Command.cs.
    private static IEnumerable<Command> Commands()
    {
        yield return VersionCommand.Build();
        yield return DemoCommand.Build();
        yield return ExperimentCommand.Build();
        yield return KeywordsCommand.Build();
        yield return HoldoutCommand.Build();
        // `cl device`: the daemon (`run`) and the fleet's request/reply (`cmd`) share one group.
        var device = DeviceCommand.Build();
        device.Subcommands.Add(FleetCommand.DeviceCmd());
        device.Subcommands.Add(FleetIdentityCommand.Provision());
        yield return device;
        yield return AggregatorCommand.Build();
        var fleet = FleetCommand.Build();
        FleetIdentityCommand.AddTo(fleet);
        yield return fleet;
        yield return BrokerCommand.Build();
        yield return ModelCommand.Build();
        yield return ConsoleCommand.Build();
        yield return KeysCommand.Build();
        yield return SelfCheckCommand.Build();
        yield return SimulateCommand.Build();
    }
}
