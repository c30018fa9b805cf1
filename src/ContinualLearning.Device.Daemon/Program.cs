using System.CommandLine;
using System.Reflection;
using ContinualLearning.Device.Hosting;

namespace ContinualLearning.Device.Daemon;

/// <summary>`cl-device`: the device daemon (`run`) as the device packages install it; see docs/device.md.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("cl-device: serve predictions, learn locally, exchange deltas and releases with the fleet (managed engine).");
        root.Subcommands.Add(DeviceRunCommand.Create(_ => TorchEngineProvider.None));
        var version = new Command("version", "Print the version.");
        version.SetAction(_ => Console.WriteLine($"cl-device {typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown"}"));
        root.Subcommands.Add(version);
        return root.Parse(args).InvokeAsync().GetAwaiter().GetResult();
    }
}
