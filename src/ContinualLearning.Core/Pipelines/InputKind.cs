namespace ContinualLearning.Pipelines;

/// <summary>What a model's raw input is (manifest <c>inputSchema.kind</c>).</summary>
public enum InputKind
{
    /// <summary>A fixed list of named numeric features, normalised by <c>inputSchema.features</c> (JSON "features").</summary>
    Features,

    /// <summary>Mono PCM audio (JSON "audio"); see <see cref="AudioInputSpec"/>. The stages turn a clip into the head input.</summary>
    Audio,

    /// <summary>Reserved for image pipelines (JSON "image"); refused by this runtime with a clear error.</summary>
    Image,
}
