using ContinualLearning.Tensors;
using ContinualLearning.Training;
using ContinualLearning.Training.Internal;

namespace ContinualLearning.UnitTests.Training;

/// <summary>FedProx's proximal term μ/2·‖θ − θ_g‖² as a unit-Fisher EWC penalty: its gradient, μ = 0 and a large μ.</summary>
public sealed class ProximalPenaltyTests
{
    private static readonly HeadSpec Spec = new([4, 5, 3], LossKind.SoftmaxCrossEntropy);
    private static readonly TrainingOptions Sgd = new() { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05f };

    [Fact]
    public void Proximal_term_adds_half_mu_squared_distance_except_on_excluded_tensors_and_its_gradient()
    {
        var random = new Random(3);
        const int batch = 3;
        var x = TrainingData.Inputs(random, batch, Spec.InputSize);
        var t = TrainingData.Targets(random, Spec, batch);
        using var head = (ManagedHead)new ManagedEngine().Create(Spec, Sgd, seed: 1);
        var global = HeadInitializer.Initialize(Spec, seed: 2);
        const float mu = 0.7f;
        var personal = PersonalLayers.TensorNames(Spec, 1);
        head.SetPenalty(ProximalPenalty.Combine(null, global, mu, personal));

        var engineLoss = head.LossAndGradient(x, t, batch, includePenalty: true);

        var g = global.SelectMany(a => a.Data).Select(v => (double)v).ToArray();
        var counted = global.SelectMany(a => a.Data.Select(_ => personal.Contains(a.Name) ? 0.0 : 1.0)).ToArray();
        double Loss(double[] q)
        {
            var distance = 0.0;
            for (var i = 0; i < q.Length; i++) distance += counted[i] * (q[i] - g[i]) * (q[i] - g[i]);
            return ReferenceMlp.Loss(Spec, q, x, t, batch) + mu / 2 * distance;
        }
        var p = ReferenceMlp.ToDouble(head.Parameters);
        Assert.True(Math.Abs(engineLoss - Loss(p)) <= 1e-5 * Math.Max(1, Loss(p)), $"loss {engineLoss} vs reference {Loss(p)}");
        AssertClose(ReferenceMlp.NumericGradient(Loss, p), head.Gradient);
        // By hand on the hidden weight: the data gradient plus μ·(θ − g).
        head.SetPenalty(null);
        head.LossAndGradient(x, t, batch, includePenalty: true);
        var plain = head.Gradient.ToArray();
        head.SetPenalty(ProximalPenalty.Combine(null, global, mu, personal));
        head.LossAndGradient(x, t, batch, includePenalty: true);
        Assert.Equal(plain[0] + mu * (head.Parameters[0] - global[0].Data[0]), head.Gradient[0], 5);
        var outputOffset = Spec.LayerSizes[1] * (Spec.InputSize + 1);
        Assert.Equal(plain[outputOffset], head.Gradient[outputOffset]);
    }

    [Fact]
    public void Combined_with_ewc_it_has_the_gradient_of_both_terms()
    {
        var random = new Random(8);
        const int batch = 4;
        var x = TrainingData.Inputs(random, batch, Spec.InputSize);
        var t = TrainingData.Targets(random, Spec, batch);
        using var head = (ManagedHead)new ManagedEngine().Create(Spec, Sgd, seed: 4);
        var champion = HeadInitializer.Initialize(Spec, seed: 5);
        var global = HeadInitializer.Initialize(Spec, seed: 6);
        var fisher = champion.Select(a => new NamedTensor(a.Name, a.Shape, a.Data.Select(_ => (float)random.NextDouble()).ToArray())).ToArray();
        const float lambda = 3f, mu = 0.4f;
        head.SetPenalty(ProximalPenalty.Combine(new EwcPenalty(champion, fisher, lambda), global, mu));
        head.LossAndGradient(x, t, batch, includePenalty: true);

        var a = champion.SelectMany(w => w.Data).Select(v => (double)v).ToArray();
        var f = fisher.SelectMany(w => w.Data).Select(v => (double)v).ToArray();
        var g = global.SelectMany(w => w.Data).Select(v => (double)v).ToArray();
        double Loss(double[] q)
        {
            double ewc = 0, prox = 0;
            for (var i = 0; i < q.Length; i++)
            {
                ewc += f[i] * (q[i] - a[i]) * (q[i] - a[i]);
                prox += (q[i] - g[i]) * (q[i] - g[i]);
            }
            return ReferenceMlp.Loss(Spec, q, x, t, batch) + lambda / 2 * ewc + mu / 2 * prox;
        }
        AssertClose(ReferenceMlp.NumericGradient(Loss, ReferenceMlp.ToDouble(head.Parameters)), head.Gradient);
    }

    [Fact]
    public void Mu_zero_leaves_the_penalty_as_it_was_so_training_is_bit_identical()
    {
        var weights = HeadInitializer.Initialize(Spec, seed: 1);
        var ewc = new EwcPenalty(weights, weights, 10f);
        Assert.Same(ewc, ProximalPenalty.Combine(ewc, weights, 0f));
        Assert.Null(ProximalPenalty.Combine(null, weights, 0f));

        var (x, t) = TrainingData.Separable(new Random(2), Spec, 64);
        float[] Train(EwcPenalty? penalty)
        {
            using var head = new ManagedEngine().Create(Spec, Sgd, weights);
            head.SetPenalty(penalty);
            for (var i = 0; i < 20; i++) head.TrainStep(x.AsSpan(0, 32 * Spec.InputSize), t.AsSpan(0, 32 * Spec.TargetWidth), 32);
            return [.. head.GetWeights().SelectMany(w => w.Data)];
        }
        Assert.Equal(Train(null), Train(ProximalPenalty.Combine(null, HeadInitializer.Initialize(Spec, seed: 9), 0f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProximalPenalty.Combine(null, weights, -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProximalPenalty.Combine(null, weights, float.NaN));
    }

    [Fact]
    public void A_large_mu_keeps_the_trained_weights_near_the_anchor()
    {
        var anchor = HeadInitializer.Initialize(Spec, seed: 1);
        var (x, t) = TrainingData.Separable(new Random(2), Spec, 256);
        double Distance(float mu)
        {
            using var head = new ManagedEngine().Create(Spec, Sgd, anchor);
            head.SetPenalty(ProximalPenalty.Combine(null, anchor, mu));
            for (var epoch = 0; epoch < 10; epoch++)
                for (var i = 0; i + 32 <= 256; i += 32)
                    head.TrainStep(x.AsSpan(i * Spec.InputSize, 32 * Spec.InputSize), t.AsSpan(i * Spec.TargetWidth, 32 * Spec.TargetWidth), 32);
            return Math.Sqrt(head.GetWeights().Zip(anchor).Sum(p => p.First.Data.Zip(p.Second.Data).Sum(v => (double)(v.First - v.Second) * (v.First - v.Second))));
        }
        var free = Distance(0f);
        var small = Distance(0.1f);
        var large = Distance(10f);
        Assert.True(free > 0.5, $"without the term the weights moved only {free:0.000}");
        Assert.True(small < free && large < small, $"distances: μ=0 {free:0.000}, μ=0.1 {small:0.000}, μ=10 {large:0.000}");
        Assert.True(large < 0.2 * free, $"μ=10 left the weights {large:0.000} from the anchor (μ=0: {free:0.000})");
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 2e-5 + 1e-3 * Math.Abs(expected[i]), $"gradient[{i}]: engine {actual[i]}, finite differences {expected[i]}");
    }
}
