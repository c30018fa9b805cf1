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
        return root.Parse(args).Invoke();
    }

    // One line per command group; each group lives in Commands/<Name>Command.cs.
    private static IEnumerable<Command> Commands()
    {
        yield return VersionCommand.Build();
        yield return ExperimentCommand.Build();
        yield return DeviceCommand.Build();
        yield return SelfCheckCommand.Build();
    }
}
