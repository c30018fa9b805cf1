using ContinualLearning.Bundle;
using ContinualLearning.Pipelines;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Onnx;

/// <summary>What <see cref="SpeechBundleBuilder"/> puts in a base audio bundle.</summary>
public sealed record SpeechBundleOptions
{
    /// <summary>Model name (letters, digits, '.', '_' or '-').</summary>
    public required string Name { get; init; }

    /// <summary>Semantic version, e.g. "1.0.0".</summary>
    public string Version { get; init; } = "1.0.0";

    /// <summary>Class names in output order (≥ 2; softmax cross-entropy, one output per label).</summary>
    public required IReadOnlyList<string> LabelNames { get; init; }

    /// <summary>Hidden layer widths between the embedding and the outputs; empty = a linear head.</summary>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [64];

    /// <summary>How the window embeddings of a clip are pooled (head input 96, or 192 for mean+max).</summary>
    public PoolMode Pool { get; init; } = PoolMode.MeanMax;

    /// <summary>Trained head weights (state_dict names), or null for a fresh initialisation with <see cref="Seed"/>.</summary>
    public IReadOnlyList<NamedTensor>? HeadWeights { get; init; }

    /// <summary>Seed of the fresh initialisation.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Directory holding the speech models; null = <see cref="SpeechModels.Locate"/>.</summary>
    public string? SpeechModelDirectory { get; init; }

    /// <summary>The accepted audio; null = <see cref="SpeechModels.Audio"/> (16 kHz, 1–10 s).</summary>
    public AudioInputSpec? Audio { get; init; }

    /// <summary>Default on-device training settings.</summary>
    public TrainingDefaults Training { get; init; } = new();

    /// <summary>Creation time (UTC); null = now.</summary>
    public DateTime? CreatedUtc { get; init; }

    /// <summary>Signs the final manifest (base64 over <see cref="ModelManifest.CanonicalBytesForSigning"/>), or null for an unsigned bundle.</summary>
    public Func<ModelManifest, string?>? Sign { get; init; }
}

/// <summary>
/// Makes a base audio bundle for the speech-embedding pipeline: the two speech models as stages, the openWakeWord
/// glue, a pooled embedding and a classification head — fresh or trained elsewhere (e.g. on clips embedded by the
/// same pipeline).
/// </summary>
public static class SpeechBundleBuilder
{
    /// <summary>The manifest (files and signature empty; <see cref="Save"/> fills them).</summary>
    public static ModelManifest Manifest(SpeechBundleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var embedding = SpeechModels.EmbeddingSize(options.Pool);
        return new ModelManifest
        {
            Name = options.Name,
            Version = options.Version,
            CreatedUtc = options.CreatedUtc ?? DateTime.UtcNow,
            InputSchema = new InputSchema([], embedding)
            {
                Kind = InputKind.Audio,
                Audio = options.Audio ?? SpeechModels.Audio,
                Stages = SpeechModels.Stages(options.Pool),
            },
            Task = TaskSpec.Classification(options.LabelNames),
            Head = new HeadSpec([embedding, .. options.HiddenSizes, options.LabelNames.Count], LossKind.SoftmaxCrossEntropy),
            Training = options.Training,
        };
    }

    /// <summary>Writes the bundle to <paramref name="directory"/> (replacing it with <paramref name="overwrite"/>) and returns the manifest as written.</summary>
    /// <exception cref="FileNotFoundException">The speech models are missing.</exception>
    /// <exception cref="BundleException">The options make an invalid manifest, or the head weights do not fit it.</exception>
    public static ModelManifest Save(string directory, SpeechBundleOptions options, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        var manifest = Manifest(options);
        var models = options.SpeechModelDirectory is { } dir ? SpeechModels.Locate(_ => dir) : SpeechModels.Locate();
        var weights = options.HeadWeights ?? HeadInitializer.Initialize(manifest.Head, options.Seed);
        var stageFiles = manifest.InputSchema.StageFiles.Distinct(StringComparer.Ordinal)
            .ToDictionary(f => f, f => Path.Combine(models, f), StringComparer.Ordinal);
        return ModelBundle.Save(directory, manifest, weights, sign: options.Sign, overwrite: overwrite, stageFiles: stageFiles);
    }
}
