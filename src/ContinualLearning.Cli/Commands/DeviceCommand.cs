using System.CommandLine;
using ContinualLearning.Device.Hosting;
using ContinualLearning.Torch;

namespace ContinualLearning.Cli.Commands;

/// <summary>`cl device run`: the device daemon (see docs/device.md); the same command as `cl-device run`, plus the torch engine.</summary>
internal static class DeviceCommand
{
    public static Command Build()
    {
        var device = new Command("device", "The device daemon: serve predictions, learn locally, exchange deltas and releases with the fleet.");
        // The Device assembly cannot reference TorchSharp (no linux-arm64 natives): offer it from here when libtorch loads.
        device.Subcommands.Add(DeviceRunCommand.Create(options =>
            TorchEngineProvider.Probe(options.Engine, () => TorchEngine.IsAvailable, () => new TorchEngine(), () => TorchEngine.UnavailableReason)));
        return device;
    }
}
