using ContinualLearning.Learning;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>Output-layer surgery: growth keeps every old prediction, row selection and appending copy the right rows.</summary>
public sealed class HeadGrowthTests
{
    private static readonly HeadSpec Spec = new([6, 16, 3], LossKind.SoftmaxCrossEntropy);

    private static IReadOnlyList<NamedTensor> Trained(HeadSpec spec, int seed)
    {
        var random = new Random(seed);
        using var head = new ManagedEngine().Create(spec, new TrainingOptions { LearningRate = 0.01f }, seed: seed);
        var x = TrainingData.Inputs(random, 64, spec.InputSize, 3f);
        var t = TrainingData.Targets(random, spec, 64);
        for (var i = 0; i < 50; i++) head.TrainStep(x, t, 64);
        return head.GetWeights();
    }

    private static float[] Predict(HeadSpec spec, IReadOnlyList<NamedTensor> weights, float[] x, int batch)
    {
        using var head = new ManagedEngine().Create(spec, new TrainingOptions(), weights);
        var output = new float[batch * spec.OutputSize];
        head.Predict(x, batch, output);
        return output;
    }

    private static int ArgMax(ReadOnlySpan<float> row) => ChallengerTrainer.PredictedClass(Spec, row);

    [Fact]
    public void Growth_keeps_old_hidden_layers_and_rows_and_every_prediction()
    {
        var weights = Trained(Spec, 3);
        var before = weights.Select(t => t.Clone()).ToArray();
        var grown = HeadGrowth.AddClasses(Spec, weights, 2);

        Assert.Equal([6, 16, 5], grown.Spec.LayerSizes);
        // Inputs unchanged (pure), hidden layer copied bit for bit, old rows a prefix of the new ones.
        for (var i = 0; i < weights.Count; i++) Assert.Equal(before[i].Data, weights[i].Data);
        Assert.Equal(weights[0].Data, grown.Weights[0].Data);
        Assert.Equal(weights[1].Data, grown.Weights[1].Data);
        Assert.Equal(weights[2].Data, grown.Weights[2].Data.AsSpan(0, weights[2].Count).ToArray());
        Assert.Equal(weights[3].Data, grown.Weights[3].Data.AsSpan(0, 3).ToArray());

        // Wide and extreme inputs, including ones far outside the training range: the arg-max never changes, the new
        // classes stay below e^-margin and the old classes keep their ratios.
        var random = new Random(11);
        const int n = 2000;
        var x = TrainingData.Inputs(random, n, Spec.InputSize, 50f);
        var old = Predict(Spec, weights, x, n);
        var now = Predict(grown.Spec, grown.Weights, x, n);
        var bound = Math.Exp(-HeadGrowth.DefaultMargin);
        for (var s = 0; s < n; s++)
        {
            var o = old.AsSpan(s * 3, 3);
            var g = now.AsSpan(s * 5, 5);
            Assert.Equal(ArgMax(o), ArgMax(g));
            Assert.True(g[3] < bound && g[4] < bound, $"sample {s}: new-class probabilities {g[3]}, {g[4]} ≥ {bound}");
            var scale = (g[0] + g[1] + g[2]) / (o[0] + o[1] + o[2]);
            Assert.True(scale > 1 - 2 * bound, $"sample {s}: old probabilities scaled by {scale}");
            for (var j = 0; j < 3; j++) Assert.Equal(o[j] * scale, g[j], 1e-6f);
        }
    }

    [Fact]
    public void Growth_holds_when_every_old_logit_is_equal()
    {
        // The worst case for the mean-row start: mean = max, so only the margin separates the new class.
        var weights = new NamedTensor[]
        {
            new("0.weight", [3, 2], new float[6]),
            new("0.bias", [3], [0.5f, 0.5f, 0.5f]),
        };
        var spec = new HeadSpec([2, 3], LossKind.SoftmaxCrossEntropy);
        var grown = HeadGrowth.AddClasses(spec, weights, 1);
        var p = Predict(grown.Spec, grown.Weights, [1f, -1f], 1);
        Assert.True(p[3] < Math.Exp(-HeadGrowth.DefaultMargin));
        Assert.Equal(p[0], p[1]);
    }

    [Fact]
    public void A_grown_class_can_be_trained()
    {
        var weights = Trained(Spec, 5);
        var grown = HeadGrowth.AddClasses(Spec, weights, 1);
        var random = new Random(2);
        var x = TrainingData.Inputs(random, 16, Spec.InputSize);
        for (var i = 0; i < x.Length; i += Spec.InputSize) x[i] = 4f;   // a distinct region
        var t = Enumerable.Repeat(3f, 16).ToArray();
        using var head = new ManagedEngine().Create(grown.Spec, new TrainingOptions { LearningRate = 0.01f }, grown.Weights);
        for (var i = 0; i < 100; i++) head.TrainStep(x, t, 16);
        var output = new float[16 * 4];
        head.Predict(x, 16, output);
        for (var s = 0; s < 16; s++) Assert.Equal(3, ArgMax(output.AsSpan(s * 4, 4)));
    }

    [Theory]
    [InlineData(LossKind.BinaryCrossEntropy, "binary cross-entropy")]
    [InlineData(LossKind.MeanSquaredError, "not classes")]
    public void Only_softmax_heads_grow(LossKind loss, string reason)
    {
        var spec = new HeadSpec([4, 1], loss);
        var ex = Assert.Throws<ArgumentException>(() => HeadGrowth.AddClasses(spec, HeadInitializer.Initialize(spec, 1), 1));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        var weights = HeadInitializer.Initialize(Spec, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => HeadGrowth.AddClasses(Spec, weights, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => HeadGrowth.AddClasses(Spec, weights, 1, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => HeadGrowth.AddClasses(Spec, weights, 1, float.NaN));
        var other = new HeadSpec([6, 8, 3], LossKind.SoftmaxCrossEntropy);
        var ex = Assert.Throws<ArgumentException>(() => HeadGrowth.AddClasses(other, weights, 1));
        Assert.Contains("expected 0.weight [8, 6]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Selecting_rows_reorders_and_zero_fills()
    {
        var weights = HeadInitializer.Initialize(Spec, 4);
        var selected = HeadGrowth.SelectOutputRows(Spec, weights, [2, -1, 0, 1]);
        Assert.Equal([6, 16, 4], selected.Spec.LayerSizes);
        Assert.Equal(weights[0].Data, selected.Weights[0].Data);
        var w = weights[2].Data;
        var s = selected.Weights[2].Data;
        Assert.Equal(w.AsSpan(2 * 16, 16).ToArray(), s.AsSpan(0, 16).ToArray());
        Assert.All(s.AsSpan(16, 16).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(w.AsSpan(0, 16).ToArray(), s.AsSpan(32, 16).ToArray());
        Assert.Equal([weights[3].Data[2], 0f, weights[3].Data[0], weights[3].Data[1]], selected.Weights[3].Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => HeadGrowth.SelectOutputRows(Spec, weights, [0, 3]));
    }

    [Fact]
    public void Appending_rows_takes_the_donor_rows_and_keeps_the_own_hidden_layers()
    {
        var weights = HeadInitializer.Initialize(Spec, 4);
        var donorSpec = new HeadSpec([6, 16, 4], LossKind.SoftmaxCrossEntropy);
        var donor = HeadInitializer.Initialize(donorSpec, 9);
        var result = HeadGrowth.AppendOutputRows(Spec, weights, donorSpec, donor, [3]);
        Assert.Equal([6, 16, 4], result.Spec.LayerSizes);
        Assert.Equal(weights[0].Data, result.Weights[0].Data);
        Assert.Equal(donor[2].Data.AsSpan(3 * 16, 16).ToArray(), result.Weights[2].Data.AsSpan(3 * 16, 16).ToArray());
        Assert.Equal(donor[3].Data[3], result.Weights[3].Data[3]);
        var narrow = new HeadSpec([6, 8, 4], LossKind.SoftmaxCrossEntropy);
        Assert.Throws<ArgumentException>(() => HeadGrowth.AppendOutputRows(Spec, weights, narrow, HeadInitializer.Initialize(narrow, 1), [0]));
    }
}
