using System.CommandLine;
using System.Reflection;
using System.Runtime.Intrinsics;
using ContinualLearning.Device.Hosting;

namespace ContinualLearning.Device.Daemon;

/// <summary>`cl-device`: the device daemon (`run`) as the device packages install it; see docs/device.md.</summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("cl-device: serve predictions, learn locally, exchange deltas and releases with the fleet.");
#if CL_DEVICE_TORCH
        // The x64 torch variant (-p:ClDeviceTorch=true): a JIT build that links TorchSharp, for gateways that want libtorch.
        root.Subcommands.Add(DeviceRunCommand.Create(options => TorchEngineProvider.Probe(
            options.Engine, () => ContinualLearning.Torch.TorchEngine.IsAvailable, () => new ContinualLearning.Torch.TorchEngine(), () => ContinualLearning.Torch.TorchEngine.UnavailableReason)));
#else
        root.Subcommands.Add(DeviceRunCommand.Create(_ => TorchEngineProvider.None));
#endif
        var version = new Command("version", "Print the version.");
        version.SetAction(_ => Console.WriteLine(
            $"cl-device {typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown"} " +
            $"(.NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}, {(System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "native AOT")}, " +
            // The managed engine's GEMM picks its widest accelerated vector; native AOT fixes that at build time (docs/device-images.md).
            $"SIMD {(Vector512.IsHardwareAccelerated ? "512" : Vector256.IsHardwareAccelerated ? "256" : Vector128.IsHardwareAccelerated ? "128" : "none")}-bit)"));
        root.Subcommands.Add(version);
        return root.Parse(args).InvokeAsync().GetAwaiter().GetResult();
    }
}
