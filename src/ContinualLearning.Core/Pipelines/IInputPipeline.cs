namespace ContinualLearning.Pipelines;

/// <summary>
/// Turns one raw sample into the head's input. The same object serves predictions, labelled samples, training data
/// and experiments, so serving and training cannot skew. Built from a bundle's manifest (ContinualLearning.Onnx's
/// InputPipelineFactory); kept in Core so the learning loop does not depend on ONNX Runtime.
/// </summary>
public interface IInputPipeline : IDisposable
{
    /// <summary>What <see cref="Embed"/> reads.</summary>
    InputKind Kind { get; }

    /// <summary>Floats written per sample: the head's input size.</summary>
    int OutputSize { get; }

    /// <summary>
    /// Embeds one sample into <paramref name="output"/> (<see cref="OutputSize"/> floats). <see cref="InputKind.Features"/>:
    /// raw feature values in schema order (normalised here). <see cref="InputKind.Audio"/>: mono PCM at the declared rate
    /// as int16-scale floats (−32768…32767), any length from 1 to <see cref="AudioInputSpec.MaxSamples"/>.
    /// </summary>
    void Embed(ReadOnlySpan<float> raw, Span<float> output);
}
