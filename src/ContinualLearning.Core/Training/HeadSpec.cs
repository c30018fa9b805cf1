namespace ContinualLearning.Training;

/// <summary>Activation applied after a hidden layer.</summary>
public enum Activation
{
    /// <summary>No activation (identity).</summary>
    None,
    /// <summary>max(0, x).</summary>
    Relu,
}

/// <summary>The loss a head is trained with; it also fixes the output transform at prediction time.</summary>
public enum LossKind
{
    /// <summary>Multi-class classification: softmax over the outputs, targets are class indices.</summary>
    SoftmaxCrossEntropy,
    /// <summary>Binary (or multi-label) classification: sigmoid per output, targets are 0/1 per output.</summary>
    BinaryCrossEntropy,
    /// <summary>Regression: identity outputs, targets are real values per output.</summary>
    MeanSquaredError,
}

/// <summary>
/// The architecture of a trainable MLP head: <c>Linear(in0→in1) act Linear(in1→in2) act … Linear(→out)</c>.
/// The last Linear has no activation; the loss decides the output transform.
/// Parameter names follow <c>nn.Sequential</c>: Linear i sits at module index 2·i (ReLU modules in between),
/// so weights are "0.weight", "0.bias", "2.weight", ...
/// </summary>
public sealed record HeadSpec
{
    /// <summary>A head with these layer sizes (input first, at least two), trained with <paramref name="loss"/>.</summary>
    public HeadSpec(IReadOnlyList<int> layerSizes, LossKind loss, Activation hiddenActivation = Activation.Relu)
    {
        ArgumentNullException.ThrowIfNull(layerSizes);
        if (layerSizes.Count < 2)
            throw new ArgumentException($"A head needs at least an input and an output size; got [{string.Join(", ", layerSizes)}].", nameof(layerSizes));
        for (var i = 0; i < layerSizes.Count; i++)
            if (layerSizes[i] <= 0)
                throw new ArgumentException($"Layer size {i} is {layerSizes[i]}; every layer size must be positive (sizes [{string.Join(", ", layerSizes)}]).", nameof(layerSizes));
        if (loss == LossKind.SoftmaxCrossEntropy && layerSizes[^1] < 2)
            throw new ArgumentException($"Softmax cross-entropy needs at least 2 outputs; the head has {layerSizes[^1]}. Use BinaryCrossEntropy for one output.", nameof(loss));
        LayerSizes = layerSizes.ToArray();
        Loss = loss;
        HiddenActivation = hiddenActivation;
    }

    /// <summary>Sizes from input to output, e.g. [16, 32, 2].</summary>
    public IReadOnlyList<int> LayerSizes { get; }

    /// <summary>The training loss, which also fixes the output transform.</summary>
    public LossKind Loss { get; }

    /// <summary>Activation after every hidden Linear layer.</summary>
    public Activation HiddenActivation { get; }

    /// <summary>Width of the head's input.</summary>
    public int InputSize => LayerSizes[0];

    /// <summary>Number of outputs.</summary>
    public int OutputSize => LayerSizes[^1];

    /// <summary>Number of Linear layers.</summary>
    public int LinearCount => LayerSizes.Count - 1;

    /// <summary>Floats per sample in a target buffer: 1 (class index) for softmax CE, <see cref="OutputSize"/> otherwise.</summary>
    public int TargetWidth => Loss == LossKind.SoftmaxCrossEntropy ? 1 : OutputSize;

    /// <summary>nn.Sequential index of Linear layer <paramref name="linear"/>.</summary>
    public static int ModuleIndex(int linear) => 2 * linear;

    /// <summary>State_dict name of the weight of Linear layer <paramref name="linear"/> ("2.weight").</summary>
    public static string WeightName(int linear) => $"{ModuleIndex(linear)}.weight";

    /// <summary>State_dict name of the bias of Linear layer <paramref name="linear"/> ("2.bias").</summary>
    public static string BiasName(int linear) => $"{ModuleIndex(linear)}.bias";

    /// <summary>Parameter names and shapes in state_dict order.</summary>
    public IEnumerable<(string Name, int[] Shape)> Parameters()
    {
        for (var l = 0; l < LinearCount; l++)
        {
            yield return (WeightName(l), new[] { LayerSizes[l + 1], LayerSizes[l] });
            yield return (BiasName(l), new[] { LayerSizes[l + 1] });
        }
    }

    /// <summary>"16→32→2 (SoftmaxCrossEntropy)", for logs.</summary>
    public override string ToString() => $"{string.Join("→", LayerSizes)} ({Loss})";

    /// <summary>Value equality: the layer sizes are compared element by element, not by reference.</summary>
    public bool Equals(HeadSpec? other) =>
        other is not null && Loss == other.Loss && HiddenActivation == other.HiddenActivation && LayerSizes.SequenceEqual(other.LayerSizes);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Loss, HiddenActivation, LayerSizes.Count, LayerSizes[0], LayerSizes[^1]);
}
