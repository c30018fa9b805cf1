using ContinualLearning.Pipelines;

namespace ContinualLearning.Onnx;

/// <summary>
/// Where the speech-embedding models (openWakeWord's <c>melspectrogram.onnx</c> and <c>embedding_model.onnx</c>) are
/// on this machine, and the stages that glue them: raw 16 kHz PCM → 32-bin log-mel frames → ×0.1 + 2 → windows of 76
/// frames, stride 8 → one 96-d embedding per window → pooled over the clip.
/// </summary>
public static class SpeechModels
{
    /// <summary>Environment variable naming the directory that holds both models (overrides the default).</summary>
    public const string EnvironmentVariable = "CL_SPEECH_MODELS";

    /// <summary>Raw PCM → [batch, 1, frames, 32] log-mel frames (dynamic length).</summary>
    public const string MelSpectrogramFile = "melspectrogram.onnx";

    /// <summary>[batch, 76, 32, 1] frames → [batch, 1, 1, 96] embedding.</summary>
    public const string EmbeddingFile = "embedding_model.onnx";

    /// <summary>Width of one window's embedding.</summary>
    public const int WindowEmbeddingSize = 96;

    /// <summary>The default directory: <c>speech-models/</c> beside the program (the build copies the models there).</summary>
    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "speech-models");

    /// <summary>The audio the models take: 16 kHz; at least 1 s (the first window needs 76 frames), at most 10 s.</summary>
    public static AudioInputSpec Audio { get; } = new(16_000, 16_000, 160_000);

    /// <summary>The directory holding both models, or null when they are missing.</summary>
    public static string? TryLocate(Func<string, string?>? environment = null)
    {
        var dir = Directory(environment);
        return File.Exists(Path.Combine(dir, MelSpectrogramFile)) && File.Exists(Path.Combine(dir, EmbeddingFile)) ? dir : null;
    }

    /// <summary>The directory holding both models.</summary>
    /// <exception cref="FileNotFoundException">A model is missing; the message names where it looked and how to fix it.</exception>
    public static string Locate(Func<string, string?>? environment = null)
    {
        var dir = Directory(environment);
        foreach (var file in new[] { MelSpectrogramFile, EmbeddingFile })
        {
            var path = Path.Combine(dir, file);
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"Speech model '{path}' not found. Looked in {(FromEnvironment(environment) is null ? $"{DefaultDirectory} (the default; {EnvironmentVariable} is not set)" : $"{dir} ({EnvironmentVariable})")}. " +
                    $"Build a project with UsesSpeechModels=true (it copies them to speech-models/), run build/speech-models.sh DIR, or set {EnvironmentVariable} to a directory holding {MelSpectrogramFile} and {EmbeddingFile}.", path);
        }
        return dir;
    }

    /// <summary>The manifest stages for the speech embedding, pooled with <paramref name="pool"/>.</summary>
    public static IReadOnlyList<PipelineStageSpec> Stages(PoolMode pool) =>
    [
        new OnnxStageSpec(MelSpectrogramFile),
        new AffineStageSpec(0.1f, 2f),
        new WindowStageSpec(76, 8),
        new OnnxStageSpec(EmbeddingFile),
        new PoolStageSpec(pool),
    ];

    /// <summary>The head input width the stages give: 96, or 192 for <see cref="PoolMode.MeanMax"/>.</summary>
    public static int EmbeddingSize(PoolMode pool) => pool == PoolMode.MeanMax ? 2 * WindowEmbeddingSize : WindowEmbeddingSize;

    private static string? FromEnvironment(Func<string, string?>? environment) =>
        (environment ?? Environment.GetEnvironmentVariable)(EnvironmentVariable) is { Length: > 0 } v ? v : null;

    private static string Directory(Func<string, string?>? environment) => Path.GetFullPath(FromEnvironment(environment) ?? DefaultDirectory);
}
