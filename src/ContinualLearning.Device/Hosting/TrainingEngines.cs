using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Training;

namespace ContinualLearning.Device.Hosting;

/// <summary>
/// The torch engine as the caller can offer it. The Device assembly never references TorchSharp (it has no linux-arm64
/// natives); the `cl` binary passes a factory when libtorch loads, and the reason when it does not.
/// </summary>
/// <param name="Factory">Creates the torch engine; null when unavailable.</param>
/// <param name="UnavailableReason">Why it is unavailable (shown when engine=torch is configured).</param>
public sealed record TorchEngineProvider(Func<ITrainingEngine>? Factory, string? UnavailableReason = null)
{
    public static TorchEngineProvider None { get; } = new(null, "this build of the daemon has no torch engine (cl-device is native AOT, managed engine only)");

    /// <summary>
    /// What a binary that links TorchSharp offers for <paramref name="choice"/>. Probing loads libtorch (~100 MB resident),
    /// so it is skipped when the configuration asks for the managed engine.
    /// </summary>
    public static TorchEngineProvider Probe(EngineChoice choice, Func<bool> isAvailable, Func<ITrainingEngine> create, Func<string?> unavailableReason)
    {
        ArgumentNullException.ThrowIfNull(isAvailable);
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(unavailableReason);
        if (choice == EngineChoice.Managed) return new(null, "engine = managed in the configuration");
        return isAvailable() ? new(create) : new(null, unavailableReason());
    }
}

/// <summary>Resolves the configured <see cref="EngineChoice"/> to an engine.</summary>
public static class TrainingEngines
{
    /// <summary>auto = torch when offered, else managed; torch without a factory is a configuration error.</summary>
    public static ITrainingEngine Resolve(EngineChoice choice, TorchEngineProvider? torch)
    {
        torch ??= TorchEngineProvider.None;
        return choice switch
        {
            EngineChoice.Managed => new ManagedEngine(),
            EngineChoice.Torch => torch.Factory?.Invoke() ?? throw new ConfigurationException("device",
                [new ConfigurationError("engine", "torch", $"is not available here ({torch.UnavailableReason ?? "libtorch did not load"})", "use engine=managed (or auto)")]),
            _ => torch.Factory?.Invoke() ?? new ManagedEngine(),
        };
    }
}
