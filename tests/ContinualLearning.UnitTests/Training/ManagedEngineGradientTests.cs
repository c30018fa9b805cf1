using ContinualLearning.Tensors;
using ContinualLearning.Training;
using ContinualLearning.Training.Internal;

namespace ContinualLearning.UnitTests.Training;

/// <summary>The managed engine's losses and gradients against a double-precision oracle and finite differences.</summary>
public sealed class ManagedEngineGradientTests
{
    private static readonly TrainingOptions Sgd = new() { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f };

    public static TheoryData<LossKind, Activation> Cases() => new()
    {
        { LossKind.SoftmaxCrossEntropy, Activation.Relu },
        { LossKind.BinaryCrossEntropy, Activation.Relu },
        { LossKind.MeanSquaredError, Activation.Relu },
        { LossKind.SoftmaxCrossEntropy, Activation.None },
        { LossKind.MeanSquaredError, Activation.None },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_matches_finite_differences_of_a_double_precision_reference(LossKind loss, Activation activation)
    {
        var spec = new HeadSpec([5, 7, 6, 3], loss, activation);
        var random = new Random(11);
        const int batch = 4;
        var x = TrainingData.Inputs(random, batch, spec.InputSize);
        var t = TrainingData.Targets(random, spec, batch);
        using var head = (ManagedHead)new ManagedEngine().Create(spec, Sgd, seed: 3);

        var engineLoss = head.LossAndGradient(x, t, batch, includePenalty: true);

        var p = ReferenceMlp.ToDouble(head.Parameters);
        var referenceLoss = ReferenceMlp.Loss(spec, p, x, t, batch);
        Assert.True(Math.Abs(engineLoss - referenceLoss) <= 1e-5 * Math.Max(1, Math.Abs(referenceLoss)),
            $"loss {engineLoss} vs reference {referenceLoss}");
        var numeric = ReferenceMlp.NumericGradient(q => ReferenceMlp.Loss(spec, q, x, t, batch), p);
        AssertGradientsClose(numeric, head.Gradient);
    }

    [Fact]
    public void Ewc_penalty_adds_half_lambda_fisher_squared_distance_and_its_gradient()
    {
        var spec = new HeadSpec([4, 5, 2], LossKind.SoftmaxCrossEntropy);
        var random = new Random(5);
        const int batch = 3;
        var x = TrainingData.Inputs(random, batch, spec.InputSize);
        var t = TrainingData.Targets(random, spec, batch);
        using var head = (ManagedHead)new ManagedEngine().Create(spec, Sgd, seed: 9);
        var anchor = HeadInitializer.Initialize(spec, seed: 10);
        var fisher = anchor.Select(a => new NamedTensor(a.Name, a.Shape, a.Data.Select(_ => (float)random.NextDouble()).ToArray())).ToArray();
        const float lambda = 2.5f;
        head.SetPenalty(new EwcPenalty(anchor, fisher, lambda));

        var engineLoss = head.LossAndGradient(x, t, batch, includePenalty: true);

        var flatAnchor = anchor.SelectMany(a => a.Data).Select(v => (double)v).ToArray();
        var flatFisher = fisher.SelectMany(a => a.Data).Select(v => (double)v).ToArray();
        double Loss(double[] q)
        {
            var penalty = 0.0;
            for (var i = 0; i < q.Length; i++) penalty += flatFisher[i] * (q[i] - flatAnchor[i]) * (q[i] - flatAnchor[i]);
            return ReferenceMlp.Loss(spec, q, x, t, batch) + lambda / 2 * penalty;
        }
        var p = ReferenceMlp.ToDouble(head.Parameters);
        var referenceLoss = Loss(p);
        Assert.True(Math.Abs(engineLoss - referenceLoss) <= 1e-5 * Math.Max(1, referenceLoss), $"loss {engineLoss} vs reference {referenceLoss}");
        AssertGradientsClose(ReferenceMlp.NumericGradient(Loss, p), head.Gradient);

        // Clearing the penalty gives back the plain data loss.
        head.SetPenalty(null);
        var plain = head.LossAndGradient(x, t, batch, includePenalty: true);
        Assert.True(Math.Abs(plain - ReferenceMlp.Loss(spec, p, x, t, batch)) <= 1e-5);
    }

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy)]
    [InlineData(LossKind.BinaryCrossEntropy)]
    [InlineData(LossKind.MeanSquaredError)]
    public void Fisher_diagonal_is_the_mean_of_squared_per_sample_gradients(LossKind loss)
    {
        var spec = new HeadSpec([3, 4, 2], loss);
        var random = new Random(21);
        const int count = 5;
        var x = TrainingData.Inputs(random, count, spec.InputSize);
        var t = TrainingData.Targets(random, spec, count);
        using var head = (ManagedHead)new ManagedEngine().Create(spec, Sgd, seed: 4);
        var p = ReferenceMlp.ToDouble(head.Parameters);

        var expected = new double[p.Length];
        for (var s = 0; s < count; s++)
        {
            var xs = x.AsSpan(s * spec.InputSize, spec.InputSize).ToArray();
            var ts = t.AsSpan(s * spec.TargetWidth, spec.TargetWidth).ToArray();
            var g = ReferenceMlp.NumericGradient(q => ReferenceMlp.Loss(spec, q, xs, ts, 1), p);
            for (var i = 0; i < g.Length; i++) expected[i] += g[i] * g[i] / count;
        }

        var fisher = head.FisherDiagonal(x, t, count);

        Assert.Equal(spec.Parameters().Select(q => q.Name), fisher.Select(f => f.Name));
        AssertGradientsClose(expected, fisher.SelectMany(f => f.Data).ToArray());
        Assert.Contains(fisher.SelectMany(f => f.Data), v => v > 0);
    }

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy)]
    [InlineData(LossKind.BinaryCrossEntropy)]
    [InlineData(LossKind.MeanSquaredError)]
    public void Predict_returns_the_output_transform_of_the_reference_forward_pass(LossKind loss)
    {
        var spec = new HeadSpec([6, 8, 3], loss);
        var random = new Random(2);
        const int batch = 7;
        var x = TrainingData.Inputs(random, batch, spec.InputSize, scale: 3f);
        using var head = (ManagedHead)new ManagedEngine().Create(spec, Sgd, seed: 1);
        var output = new float[batch * spec.OutputSize];

        head.Predict(x, batch, output);

        var z = ReferenceMlp.Forward(spec, ReferenceMlp.ToDouble(head.Parameters), x, batch);
        for (var s = 0; s < batch; s++)
        {
            var expected = loss switch
            {
                LossKind.SoftmaxCrossEntropy => z[s].Select(v => Math.Exp(v) / z[s].Sum(Math.Exp)).ToArray(),
                LossKind.BinaryCrossEntropy => z[s].Select(v => 1 / (1 + Math.Exp(-v))).ToArray(),
                _ => z[s],
            };
            for (var o = 0; o < spec.OutputSize; o++)
                Assert.Equal(expected[o], output[s * spec.OutputSize + o], 5);
        }
    }

    [Fact]
    public void Softmax_and_cross_entropy_stay_finite_for_huge_logits()
    {
        var spec = new HeadSpec([1, 2], LossKind.SoftmaxCrossEntropy, Activation.None);
        var weights = new[] { new NamedTensor("0.weight", [2, 1], [1000f, -1000f]), new NamedTensor("0.bias", [2], [0f, 0f]) };
        using var head = (ManagedHead)new ManagedEngine().Create(spec, Sgd, weights);
        var output = new float[2];

        head.Predict([1f], 1, output);
        var loss = head.LossAndGradient([1f], [1f], 1, includePenalty: false);

        Assert.Equal(1f, output[0]);
        Assert.Equal(0f, output[1]);
        Assert.Equal(2000f, loss, 2); // −log softmax = 1000 − (−1000)
        Assert.All(head.Gradient.ToArray(), g => Assert.True(float.IsFinite(g)));
    }

    private static void AssertGradientsClose(double[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var error = Math.Abs(actual[i] - expected[i]);
            Assert.True(error <= 2e-5 + 1e-3 * Math.Abs(expected[i]),
                $"gradient[{i}]: engine {actual[i]}, finite differences {expected[i]} (error {error})");
        }
    }
}
