using System.CommandLine;
using System.Reflection;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl version`: the build's version and runtime, for bug reports.</summary>
internal static class VersionCommand
{
    public static Command Build()
    {
        var command = new Command("version", "Print the version of cl and the runtime it runs on.");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            Console.WriteLine($"cl {version} (.NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier})");
            return 0;
        });
        return command;
    }
}
