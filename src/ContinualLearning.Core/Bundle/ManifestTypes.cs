using ContinualLearning.Pipelines;
using ContinualLearning.Training;

namespace ContinualLearning.Bundle;

/// <summary>One raw input feature and the statistics that normalise it: <c>(x − Mean) / Std</c>.</summary>
public sealed record FeatureSpec(string Name, float Mean, float Std);

/// <summary>
/// What a bundle consumes: ordered raw features with their normalisation, and — when the bundle carries a
/// backbone — the size of the embedding the backbone produces (which is then the head's input size). An audio model
/// (<see cref="Kind"/> = <see cref="InputKind.Audio"/>) has no features: its <see cref="Stages"/> turn PCM
/// (<see cref="Audio"/>) into an embedding of <see cref="EmbeddingSize"/> floats.
/// </summary>
public sealed record InputSchema(IReadOnlyList<FeatureSpec> Features, int? EmbeddingSize = null)
{
    /// <summary>What the raw input is; <see cref="InputKind.Features"/> unless the manifest says otherwise.</summary>
    public InputKind Kind { get; init; } = InputKind.Features;

    /// <summary>The accepted audio (kind audio only, else null).</summary>
    public AudioInputSpec? Audio { get; init; }

    /// <summary>The ordered pipeline from raw input to head input (kind audio); empty for feature models.</summary>
    public IReadOnlyList<PipelineStageSpec> Stages { get; init; } = [];

    /// <summary>The head's input width: the embedding size with a backbone or stages, else the feature count.</summary>
    public int HeadInputSize => EmbeddingSize ?? Features.Count;

    /// <summary>Bundle files the stages run (op "onnx"), in stage order.</summary>
    public IEnumerable<string> StageFiles => Stages.OfType<OnnxStageSpec>().Select(s => s.File);

    /// <summary>Value equality: the feature and stage lists are compared element by element, not by reference.</summary>
    public bool Equals(InputSchema? other) =>
        other is not null && EmbeddingSize == other.EmbeddingSize && Kind == other.Kind && Equals(Audio, other.Audio)
        && Features.SequenceEqual(other.Features) && Stages.SequenceEqual(other.Stages);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(EmbeddingSize, Features.Count, Kind, Stages.Count);
}

/// <summary>What the head predicts.</summary>
public enum TaskKind
{
    /// <summary>Class labels; see <see cref="TaskSpec.LabelNames"/>.</summary>
    Classification,
    /// <summary>Real-valued outputs; see <see cref="TaskSpec.OutputNames"/>.</summary>
    Regression,
}

/// <summary>
/// The task: classification with ≥ 2 label names (softmax CE with one output per label, or — for exactly two
/// labels — BCE with a single output giving P(label 1)), or regression with named outputs (MSE).
/// </summary>
public sealed record TaskSpec
{
    private TaskSpec(TaskKind kind, IReadOnlyList<string> labelNames, IReadOnlyList<string> outputNames)
    {
        Kind = kind;
        LabelNames = labelNames;
        OutputNames = outputNames;
    }

    /// <summary>Classification or regression.</summary>
    public TaskKind Kind { get; }

    /// <summary>Class names in index order (empty for regression).</summary>
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>Output names in output order (empty for classification).</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>A classification task over these class names (index order).</summary>
    public static TaskSpec Classification(params IReadOnlyList<string> labelNames)
    {
        ArgumentNullException.ThrowIfNull(labelNames);
        return new(TaskKind.Classification, labelNames.ToArray(), []);
    }

    /// <summary>A regression task with these named outputs (output order).</summary>
    public static TaskSpec Regression(params IReadOnlyList<string> outputNames)
    {
        ArgumentNullException.ThrowIfNull(outputNames);
        return new(TaskKind.Regression, [], outputNames.ToArray());
    }

    /// <summary>Value equality: the name lists are compared element by element, not by reference.</summary>
    public bool Equals(TaskSpec? other) =>
        other is not null && Kind == other.Kind && LabelNames.SequenceEqual(other.LabelNames) && OutputNames.SequenceEqual(other.OutputNames);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, LabelNames.Count, OutputNames.Count);
}

/// <summary>Default training hyper-parameters shipped with a model: optimiser settings plus the micro-batch size.</summary>
public sealed record TrainingDefaults
{
    /// <summary>Optimiser settings for on-device training.</summary>
    public TrainingOptions Options { get; init; } = new();

    /// <summary>Samples per training micro-batch (new and replayed together).</summary>
    public int BatchSize { get; init; } = 32;
}
