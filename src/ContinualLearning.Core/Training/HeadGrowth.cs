using ContinualLearning.Tensors;

namespace ContinualLearning.Training;

/// <summary>A head's architecture and weights after its output layer changed.</summary>
/// <param name="Spec">The new architecture: the same layers, a different output size.</param>
/// <param name="Weights">Weights in state_dict order; hidden layers are copies of the input's.</param>
public sealed record GrownHead(HeadSpec Spec, IReadOnlyList<NamedTensor> Weights);

/// <summary>
/// Class-incremental surgery on a softmax head's output layer: add classes, reorder or drop rows, append rows from
/// another head. Pure functions: the inputs are never modified, every result is a fresh copy.
/// </summary>
/// <remarks>
/// Only the last Linear layer changes, so every hidden activation, and with it every existing class's logit, is
/// bit-for-bit what it was. A new class's row starts as the mean of the existing rows with its bias lowered by a
/// margin m, so its logit is <c>mean(z_old) − m</c>. Because the mean of a set never exceeds its maximum, that is
/// strictly below the top old logit for every input: the grown head predicts the same class as before on every input
/// until it is trained, and the new class's probability is below <c>e^−m</c> (about 0.001 with the default margin), so
/// every old probability keeps at least 99.9 % of its value and their ratios are unchanged. A zero row with a fixed low
/// bias gives no such guarantee (an input whose old logits are all below that bias would switch to the new class),
/// and the mean row starts the new class where the old classes' average is, which fine-tunes faster than zero.
/// </remarks>
public static class HeadGrowth
{
    /// <summary>
    /// How far below the old classes' mean logit a new class starts: ln 1000, so a new class has probability
    /// &lt; 0.001 until trained. A larger margin changes old probabilities less but takes more steps to train away.
    /// </summary>
    public static readonly float DefaultMargin = (float)Math.Log(1000);

    /// <summary>
    /// Adds <paramref name="count"/> output classes after the existing ones (see the type's remarks for how they start).
    /// </summary>
    /// <exception cref="ArgumentException">The head is not a softmax cross-entropy head, the weights do not match
    /// <paramref name="spec"/>, <paramref name="count"/> is not positive or the margin is not a positive finite number.</exception>
    public static GrownHead AddClasses(HeadSpec spec, IReadOnlyList<NamedTensor> weights, int count) =>
        AddClasses(spec, weights, count, DefaultMargin);

    /// <inheritdoc cref="AddClasses(HeadSpec, IReadOnlyList{NamedTensor}, int)"/>
    public static GrownHead AddClasses(HeadSpec spec, IReadOnlyList<NamedTensor> weights, int count, float margin)
    {
        RequireSoftmax(spec, "add classes to");
        CheckWeights(spec, weights);
        if (count < 1)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Cannot add {count} classes to head {spec}: the count must be at least 1.");
        if (!float.IsFinite(margin) || margin <= 0)
            throw new ArgumentOutOfRangeException(nameof(margin), margin, $"Growth margin {margin} is invalid: it must be a positive finite number (default ln 1000).");

        var (weight, bias) = OutputLayer(spec, weights);
        var inputs = weight.Shape[1];
        var outputs = spec.OutputSize;
        var meanRow = new double[inputs];
        double meanBias = 0;
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++) meanRow[i] += weight.Data[o * inputs + i];
            meanBias += bias.Data[o];
        }
        var newWeight = new float[(outputs + count) * inputs];
        var newBias = new float[outputs + count];
        weight.Data.CopyTo(newWeight, 0);
        bias.Data.CopyTo(newBias, 0);
        for (var c = 0; c < count; c++)
        {
            for (var i = 0; i < inputs; i++) newWeight[(outputs + c) * inputs + i] = (float)(meanRow[i] / outputs);
            newBias[outputs + c] = (float)(meanBias / outputs) - margin;
        }
        return Replace(spec, weights, outputs + count, newWeight, newBias);
    }

    /// <summary>
    /// A head whose output row j is row <c>rows[j]</c> of <paramref name="weights"/>' output layer, or all zeros (weight
    /// and bias) where <c>rows[j]</c> is −1. Hidden layers are copied. Used to align a head to another label order.
    /// </summary>
    /// <exception cref="ArgumentException">Not a softmax head, weights not matching, fewer than 2 rows or an index out of range.</exception>
    public static GrownHead SelectOutputRows(HeadSpec spec, IReadOnlyList<NamedTensor> weights, IReadOnlyList<int> rows)
    {
        RequireSoftmax(spec, "select output rows of");
        CheckWeights(spec, weights);
        ArgumentNullException.ThrowIfNull(rows);
        var (weight, bias) = OutputLayer(spec, weights);
        var inputs = weight.Shape[1];
        var newWeight = new float[rows.Count * inputs];
        var newBias = new float[rows.Count];
        for (var j = 0; j < rows.Count; j++)
        {
            var r = rows[j];
            if (r == -1) continue;
            if (r < 0 || r >= spec.OutputSize)
                throw new ArgumentOutOfRangeException(nameof(rows), r, $"Output row {j} takes row {r} of head {spec}, which has rows 0..{spec.OutputSize - 1} (−1 = a zero row).");
            Array.Copy(weight.Data, r * inputs, newWeight, j * inputs, inputs);
            newBias[j] = bias.Data[r];
        }
        return Replace(spec, weights, rows.Count, newWeight, newBias);
    }

    /// <summary>
    /// <paramref name="weights"/> with output rows <paramref name="donorRows"/> of <paramref name="donor"/> appended. The
    /// donor must have the same last hidden width; its hidden layers are ignored (the result keeps
    /// <paramref name="weights"/>' hidden layers).
    /// </summary>
    public static GrownHead AppendOutputRows(HeadSpec spec, IReadOnlyList<NamedTensor> weights,
        HeadSpec donorSpec, IReadOnlyList<NamedTensor> donor, IReadOnlyList<int> donorRows)
    {
        RequireSoftmax(spec, "append output rows to");
        CheckWeights(spec, weights);
        CheckWeights(donorSpec, donor);
        ArgumentNullException.ThrowIfNull(donorRows);
        if (donorSpec.LayerSizes[^2] != spec.LayerSizes[^2])
            throw new ArgumentException($"Cannot append output rows of head {donorSpec} to head {spec}: their last hidden widths differ ({donorSpec.LayerSizes[^2]} vs {spec.LayerSizes[^2]}).", nameof(donorSpec));
        var (weight, bias) = OutputLayer(spec, weights);
        var (donorWeight, donorBias) = OutputLayer(donorSpec, donor);
        var inputs = weight.Shape[1];
        var outputs = spec.OutputSize;
        var newWeight = new float[(outputs + donorRows.Count) * inputs];
        var newBias = new float[outputs + donorRows.Count];
        weight.Data.CopyTo(newWeight, 0);
        bias.Data.CopyTo(newBias, 0);
        for (var j = 0; j < donorRows.Count; j++)
        {
            var r = donorRows[j];
            if (r < 0 || r >= donorSpec.OutputSize)
                throw new ArgumentOutOfRangeException(nameof(donorRows), r, $"Donor row {r} is out of range: head {donorSpec} has rows 0..{donorSpec.OutputSize - 1}.");
            Array.Copy(donorWeight.Data, r * inputs, newWeight, (outputs + j) * inputs, inputs);
            newBias[outputs + j] = donorBias.Data[r];
        }
        return Replace(spec, weights, outputs + donorRows.Count, newWeight, newBias);
    }

    private static void RequireSoftmax(HeadSpec spec, string what)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Loss != LossKind.SoftmaxCrossEntropy)
            throw new ArgumentException(spec.Loss == LossKind.BinaryCrossEntropy
                ? $"Cannot {what} head {spec}: a binary cross-entropy head scores each output independently (a single output is one yes/no class), so there is no class list to extend. Retrain it as a SoftmaxCrossEntropy head with one output per class."
                : $"Cannot {what} head {spec}: only SoftmaxCrossEntropy (multi-class) heads have classes; a {spec.Loss} head's outputs are not classes.", nameof(spec));
    }

    private static void CheckWeights(HeadSpec spec, IReadOnlyList<NamedTensor> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var expected = spec.Parameters().ToArray();
        if (weights.Count != expected.Length)
            throw new ArgumentException($"Head {spec} has {expected.Length} tensors; {weights.Count} were given.", nameof(weights));
        for (var i = 0; i < expected.Length; i++)
        {
            var (name, shape) = expected[i];
            if (weights[i].Name != name || !weights[i].Shape.AsSpan().SequenceEqual(shape))
                throw new ArgumentException($"Head {spec}: tensor {i} is {weights[i]}; expected {name} [{string.Join(", ", shape)}].", nameof(weights));
        }
    }

    private static (NamedTensor Weight, NamedTensor Bias) OutputLayer(HeadSpec spec, IReadOnlyList<NamedTensor> weights) =>
        (weights[2 * (spec.LinearCount - 1)], weights[2 * (spec.LinearCount - 1) + 1]);

    private static GrownHead Replace(HeadSpec spec, IReadOnlyList<NamedTensor> weights, int outputs, float[] newWeight, float[] newBias)
    {
        var sizes = spec.LayerSizes.ToArray();
        sizes[^1] = outputs;
        var grown = new HeadSpec(sizes, spec.Loss, spec.HiddenActivation);
        var result = new List<NamedTensor>(weights.Count);
        for (var i = 0; i < weights.Count - 2; i++) result.Add(weights[i].Clone());
        var last = spec.LinearCount - 1;
        result.Add(new NamedTensor(HeadSpec.WeightName(last), [outputs, sizes[^2]], newWeight));
        result.Add(new NamedTensor(HeadSpec.BiasName(last), [outputs], newBias));
        return new GrownHead(grown, result);
    }
}
