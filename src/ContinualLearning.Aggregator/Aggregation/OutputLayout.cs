using ContinualLearning.Bundle;
using ContinualLearning.Training;

namespace ContinualLearning.Aggregator.Aggregation;

/// <summary>
/// A release's head together with the class each output row stands for. <see cref="Labels"/> is null when the outputs
/// are not classes that can grow (regression, or a binary head with one output): such a model takes no delta with
/// labels. Offsets are into the flattened parameter vector (<see cref="Strategies.ParameterVector"/>).
/// </summary>
internal sealed class OutputLayout
{
    private readonly Dictionary<string, int> _rowOf;

    public OutputLayout(HeadSpec head, IReadOnlyList<string>? labels)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (labels is not null && labels.Count != head.OutputSize)
            throw new ArgumentException($"Head {head} has {head.OutputSize} outputs but {labels.Count} labels are given.", nameof(labels));
        Head = head;
        Labels = labels;
        _rowOf = labels is null ? [] : labels.Select((name, row) => (name, row)).ToDictionary(p => p.name, p => p.row, StringComparer.Ordinal);
        var last = head.LinearCount - 1;
        WeightName = HeadSpec.WeightName(last);
        BiasName = HeadSpec.BiasName(last);
        Hidden = head.LayerSizes[^2];
        var offset = 0;
        foreach (var (name, shape) in head.Parameters())
        {
            if (name == WeightName) WeightOffset = offset;
            if (name == BiasName) BiasOffset = offset;
            offset += shape.Aggregate(1, (a, b) => a * b);
        }
    }

    /// <summary>The layout of a release: its labels count only for a softmax classifier (one output row per label).</summary>
    public static OutputLayout Of(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var grows = manifest.Task.Kind == TaskKind.Classification && manifest.Head.Loss == LossKind.SoftmaxCrossEntropy;
        return new OutputLayout(manifest.Head, grows ? manifest.Task.LabelNames : null);
    }

    public HeadSpec Head { get; }

    /// <summary>Label of each output row, in row order; null when the model's classes cannot grow.</summary>
    public IReadOnlyList<string>? Labels { get; }

    /// <summary>State_dict name of the output layer's weight ([outputs, hidden]).</summary>
    public string WeightName { get; }

    /// <summary>State_dict name of the output layer's bias ([outputs]).</summary>
    public string BiasName { get; }

    /// <summary>Inputs of the output layer: the length of one weight row.</summary>
    public int Hidden { get; }

    public int WeightOffset { get; }

    public int BiasOffset { get; }

    /// <summary>The output row of <paramref name="label"/>, or -1 when the release has no such class.</summary>
    public int RowOf(string label) => _rowOf.TryGetValue(label, out var row) ? row : -1;

    /// <summary>This layout with <paramref name="added"/> classes appended as new output rows.</summary>
    public OutputLayout Grow(IReadOnlyList<string> added)
    {
        if (Labels is null) throw new InvalidOperationException($"Head {Head} has no class labels to grow.");
        var sizes = Head.LayerSizes.ToArray();
        sizes[^1] += added.Count;
        return new OutputLayout(new HeadSpec(sizes, Head.Loss, Head.HiddenActivation), [.. Labels, .. added]);
    }
}
