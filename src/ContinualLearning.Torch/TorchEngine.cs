using ContinualLearning.Tensors;
using ContinualLearning.Training;
using TorchSharp;

namespace ContinualLearning.Torch;

/// <summary>
/// The reference training engine, on TorchSharp / libtorch (CPU). Available on linux-x64, win-x64 and
/// osx-arm64 — not linux-arm64, where the managed engine runs instead; check <see cref="IsAvailable"/>.
/// </summary>
public sealed class TorchEngine : ITrainingEngine
{
    private static readonly Lazy<string?> s_loadFailure = new(ProbeLibTorch, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Creates the engine. <paramref name="intraOpThreads"/> sets libtorch's intra-op thread count, which is
    /// process-wide; null leaves libtorch's default (one per core).
    /// </summary>
    /// <remarks>
    /// The default is 1 because heads are small: splitting a 32×64 matmul across cores gains nothing, while
    /// OpenMP worker threads spin-wait and, on a busy device, cost far more (measured on a loaded 2-core box:
    /// 19 ms per step with 2 threads, 1 ms with 1). Raise it for large heads on an otherwise idle machine.
    /// </remarks>
    public TorchEngine(int? intraOpThreads = 1)
    {
        if (intraOpThreads is { } threads)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads, nameof(intraOpThreads));
            if (IsAvailable) torch.set_num_threads(threads);
        }
    }

    /// <summary>"torch".</summary>
    public string Name => "torch";

    /// <summary>
    /// True when libtorch loads in this process. Probed once; never throws. When false,
    /// <see cref="UnavailableReason"/> says why.
    /// </summary>
    public static bool IsAvailable => s_loadFailure.Value is null;

    /// <summary>Why libtorch did not load, or null when it did.</summary>
    public static string? UnavailableReason => s_loadFailure.Value;

    /// <inheritdoc />
    public IHeadModel Create(HeadSpec spec, TrainingOptions options, IReadOnlyList<NamedTensor>? initialWeights = null, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!IsAvailable)
            throw new InvalidOperationException($"The torch training engine cannot run here: {UnavailableReason} Use the managed engine (engine = \"managed\") on this machine.");
        return new TorchHeadModel(spec, options, initialWeights ?? HeadInitializer.Initialize(spec, seed));
    }

    private static string? ProbeLibTorch()
    {
        // libtorch-cpu ships linux-x64, win-x64 and osx-arm64 only. Elsewhere (linux-arm64 devices) do not even try:
        // a failed load makes TorchSharp go looking for natives in the NuGet cache and copy hundreds of MB.
        var arch = System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture;
        var supported = arch == System.Runtime.InteropServices.Architecture.X64
            ? OperatingSystem.IsLinux() || OperatingSystem.IsWindows()
            : arch == System.Runtime.InteropServices.Architecture.Arm64 && OperatingSystem.IsMacOS();
        if (!supported)
            return $"libtorch has no build for {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier} (TorchSharp-cpu ships linux-x64, win-x64 and osx-arm64).";
        try
        {
            // Loads libLibTorchSharp and libtorch; a missing library or symbol version surfaces here.
            return torch.TryInitializeDeviceType(DeviceType.CPU)
                ? null
                : "libtorch loaded but did not initialise its CPU device.";
        }
        catch (Exception ex)
        {
            var root = ex;
            while (root is TypeInitializationException { InnerException: { } inner }) root = inner;
            var hint = root.Message.Contains("GLIBCXX", StringComparison.Ordinal)
                ? " (the build marks GLIBCXX_3.4.32 weak in its copy of libLibTorchSharp.so; rebuild, or build with -p:TorchSharpWeakGlibcxx=always)"
                : string.Empty;
            return $"libtorch failed to load: {root.GetType().Name}: {root.Message}{hint}.";
        }
    }
}
