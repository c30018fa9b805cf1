using System.Numerics.Tensors;
using ContinualLearning.Tensors;
using ContinualLearning.Training;
using ContinualLearning.Training.Internal;

namespace ContinualLearning.UnitTests.Training;

/// <summary>Optimiser steps, training, weight exchange, input checks and allocation behaviour of the managed engine.</summary>
public sealed class ManagedEngineTests
{
    // A one-layer regression head z = w·x + b with x = [1, 2], y = 0.3: dL/dz = 2(z − y), dL/dw = dL/dz · x.
    private static readonly HeadSpec Tiny = new([2, 1], LossKind.MeanSquaredError);
    private static readonly float[] TinyX = [1f, 2f];
    private static readonly float[] TinyY = [0.3f];

    private static NamedTensor[] TinyWeights() =>
        [new NamedTensor("0.weight", [1, 2], [0.5f, -0.25f]), new NamedTensor("0.bias", [1], [0.1f])];

    [Fact]
    public void Engine_is_named_managed_and_same_seed_gives_the_shared_initial_weights()
    {
        var engine = new ManagedEngine();
        var spec = new HeadSpec([4, 8, 3], LossKind.SoftmaxCrossEntropy);
        using var a = engine.Create(spec, new TrainingOptions(), seed: 7);
        using var b = engine.Create(spec, new TrainingOptions(), seed: 8);

        Assert.Equal("managed", engine.Name);
        Assert.Equal(HeadInitializer.Initialize(spec, 7).SelectMany(t => t.Data), a.GetWeights().SelectMany(t => t.Data));
        Assert.NotEqual(a.GetWeights().SelectMany(t => t.Data), b.GetWeights().SelectMany(t => t.Data));
    }

    [Fact]
    public void Sgd_with_momentum_and_weight_decay_matches_hand_computed_steps()
    {
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f, WeightDecay = 0.01f };
        using var head = new ManagedEngine().Create(Tiny, options, TinyWeights());

        // Step 1: z = 0.1, g = (−0.4, −0.8 | −0.4), g' = g + 0.01·p = (−0.395, −0.8025 | −0.399) = buf, p −= 0.1·buf.
        var loss = head.TrainStep(TinyX, TinyY, 1);
        Assert.Equal(0.04f, loss, 6);
        AssertWeights(head, [0.5395f, -0.16975f], 0.1399f);

        // Step 2: z = 0.3399, g = (0.0798, 0.1596 | 0.0798), g' = (0.085195, 0.1579025 | 0.081199),
        // buf = 0.9·buf + g' = (−0.270305, −0.5643475 | −0.277901), p −= 0.1·buf.
        head.TrainStep(TinyX, TinyY, 1);
        AssertWeights(head, [0.5665305f, -0.11331525f], 0.1676901f);
        Assert.Equal(2, head.Steps);
    }

    [Fact]
    public void Adam_matches_the_textbook_formula_for_two_steps()
    {
        const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
        var options = new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = (float)lr, WeightDecay = (float)wd };
        using var head = new ManagedEngine().Create(Tiny, options, TinyWeights());

        // Hand Adam on (w0, w1, b): m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), p −= lr·m̂/(√v̂ + ε) (ε is negligible here,
        // so torch's placement of ε, √v/√bc2 + ε, agrees with the textbook one to ~1e-8).
        double[] p = [0.5, -0.25, 0.1], m = new double[3], v = new double[3];
        for (var t = 1; t <= 2; t++)
        {
            var z = p[0] * 1 + p[1] * 2 + p[2];
            var dz = 2 * (z - 0.3);
            double[] g = [dz * 1 + wd * p[0], dz * 2 + wd * p[1], dz + wd * p[2]];
            for (var i = 0; i < 3; i++)
            {
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                p[i] -= lr * (m[i] / (1 - Math.Pow(b1, t))) / (Math.Sqrt(v[i] / (1 - Math.Pow(b2, t))) + eps);
            }
            head.TrainStep(TinyX, TinyY, 1);
            AssertWeights(head, [(float)p[0], (float)p[1]], (float)p[2]);
        }
    }

    [Fact]
    public void Adam_places_epsilon_after_dividing_by_the_bias_correction_like_torch()
    {
        // With a large ε the placement matters: torch uses √v/√(1−β2^t) + ε, not √(v/(1−β2^t) + ε) or √v + ε.
        float[] p = [1f], g = [0.5f], m = [0f], v = [0f];
        Optimizers.AdamStep(p, g, m, v, step: 1, learningRate: 0.1f, beta1: 0.9f, beta2: 0.999f, epsilon: 0.1f, weightDecay: 0f);
        // m = 0.05, v = 0.00025; m̂ = 0.5, √v/√0.001 = 0.5; p = 1 − 0.1·0.5/(0.5 + 0.1).
        Assert.Equal(1 - 0.1 * 0.5 / 0.6, p[0], 6);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1e-2f)]
    public void Fused_adam_step_matches_the_elementwise_passes_bit_for_bit(float weightDecay)
    {
        // 1,003 elements: whole vectors plus a scalar tail, both must follow the same operation order.
        const int n = 1_003;
        var random = new Random(7);
        float[] Make(float scale) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
        var p = Make(1f);
        var m = Make(0.1f);
        var v = Make(0.01f).Select(Math.Abs).ToArray();
        var expectedP = p.ToArray();
        var expectedM = m.ToArray();
        var expectedV = v.ToArray();
        for (var step = 1; step <= 3; step++)
        {
            var g = Make(0.5f);
            var expectedG = g.ToArray();
            ElementwiseAdam(expectedP, expectedG, expectedM, expectedV, step, 1e-3f, 0.9f, 0.999f, 1e-8f, weightDecay);
            Optimizers.AdamStep(p, g, m, v, step, 1e-3f, 0.9f, 0.999f, 1e-8f, weightDecay);
        }
        Assert.Equal(expectedP, p);
        Assert.Equal(expectedM, m);
        Assert.Equal(expectedV, v);
    }

    /// <summary>The element-wise form (one TensorPrimitives pass per torch operation) the fused step must reproduce.</summary>
    private static void ElementwiseAdam(
        float[] p, float[] g, float[] m, float[] v, long step, float lr, float beta1, float beta2, float eps, float weightDecay)
    {
        var scratch = new float[p.Length];
        if (weightDecay != 0f) TensorPrimitives.MultiplyAdd(p, weightDecay, g, g);
        TensorPrimitives.Multiply(m, beta1, m);
        TensorPrimitives.MultiplyAdd(g, 1f - beta1, m, m);
        TensorPrimitives.Multiply(g, g, scratch);
        TensorPrimitives.Multiply(v, beta2, v);
        TensorPrimitives.MultiplyAdd(scratch, 1f - beta2, v, v);
        var stepSize = (float)(lr / (1 - Math.Pow(beta1, step)));
        var bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step));
        TensorPrimitives.Sqrt(v, scratch);
        TensorPrimitives.Divide(scratch, bc2Sqrt, scratch);
        TensorPrimitives.Add(scratch, eps, scratch);
        TensorPrimitives.Divide(m, scratch, scratch);
        TensorPrimitives.MultiplyAdd(scratch, -stepSize, p, p);
    }

    public static TheoryData<LossKind, OptimizerKind> LossOptimizerPairs()
    {
        var data = new TheoryData<LossKind, OptimizerKind>();
        foreach (var loss in Enum.GetValues<LossKind>())
            foreach (var optimizer in Enum.GetValues<OptimizerKind>())
                data.Add(loss, optimizer);
        return data;
    }

    [Theory]
    [MemberData(nameof(LossOptimizerPairs))]
    public void Loss_falls_on_a_separable_problem(LossKind loss, OptimizerKind optimizer)
    {
        var spec = new HeadSpec([6, 16, loss == LossKind.SoftmaxCrossEntropy ? 2 : 1], loss);
        var options = optimizer == OptimizerKind.Sgd
            ? new TrainingOptions { Optimizer = optimizer, LearningRate = 0.1f, Momentum = 0.9f }
            : new TrainingOptions { Optimizer = optimizer, LearningRate = 0.01f };
        var (x, t) = TrainingData.Separable(new Random(1), spec, 256);
        using var head = (ManagedHead)new ManagedEngine().Create(spec, options, seed: 2);
        var before = head.LossAndGradient(x, t, 256, includePenalty: false);

        const int batch = 32;
        for (var epoch = 0; epoch < 25; epoch++)
            for (var start = 0; start < 256; start += batch)
                head.TrainStep(x.AsSpan(start * spec.InputSize, batch * spec.InputSize), t.AsSpan(start * spec.TargetWidth, batch * spec.TargetWidth), batch);

        var after = head.LossAndGradient(x, t, 256, includePenalty: false);
        Assert.True(after < 0.25 * before, $"loss {before} → {after}");
        var predictions = new float[256 * spec.OutputSize];
        head.Predict(x, 256, predictions);
        var correct = 0;
        for (var s = 0; s < 256; s++)
        {
            var predictedPositive = loss switch
            {
                LossKind.SoftmaxCrossEntropy => predictions[2 * s + 1] > predictions[2 * s],
                LossKind.BinaryCrossEntropy => predictions[s] > 0.5f,
                _ => predictions[s] > 0f,
            };
            var positive = t[s * spec.TargetWidth] > 0.5f;
            if (predictedPositive == positive) correct++;
        }
        Assert.True(correct >= 0.95 * 256, $"{correct}/256 correct");
    }

    [Fact]
    public void Weights_round_trip_through_get_and_set_and_are_copies()
    {
        var spec = new HeadSpec([3, 5, 4, 2], LossKind.BinaryCrossEntropy);
        var engine = new ManagedEngine();
        using var source = engine.Create(spec, new TrainingOptions(), seed: 1);
        using var target = engine.Create(spec, new TrainingOptions(), seed: 2);
        var random = new Random(3);
        var x = TrainingData.Inputs(random, 4, 3);
        source.TrainStep(x, TrainingData.Targets(random, spec, 4), 4);

        var weights = source.GetWeights();
        target.SetWeights(weights);

        Assert.Equal(spec.Parameters().Select(p => p.Name), target.GetWeights().Select(w => w.Name));
        Assert.Equal(weights.SelectMany(w => w.Data), target.GetWeights().SelectMany(w => w.Data));
        float[] a = new float[8], b = new float[8];
        source.Predict(x, 4, a);
        target.Predict(x, 4, b);
        Assert.Equal(a, b);

        // Mutating what GetWeights returned or what SetWeights was given must not reach into the models.
        weights[0].Data[0] += 1f;
        Assert.NotEqual(weights[0].Data[0], source.GetWeights()[0].Data[0]);
        Assert.NotEqual(weights[0].Data[0], target.GetWeights()[0].Data[0]);
    }

    [Fact]
    public void SetWeights_resets_the_optimiser_state()
    {
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f };
        using var fresh = new ManagedEngine().Create(Tiny, options, TinyWeights());
        using var reused = new ManagedEngine().Create(Tiny, options, TinyWeights());
        reused.TrainStep(TinyX, TinyY, 1);
        reused.TrainStep(TinyX, TinyY, 1);

        reused.SetWeights(TinyWeights());
        reused.TrainStep(TinyX, TinyY, 1);
        fresh.TrainStep(TinyX, TinyY, 1);

        Assert.Equal(fresh.GetWeights().SelectMany(w => w.Data), reused.GetWeights().SelectMany(w => w.Data));
    }

    [Fact]
    public void SetWeights_names_the_tensor_and_shapes_on_a_mismatch()
    {
        var spec = new HeadSpec([3, 4, 2], LossKind.SoftmaxCrossEntropy);
        using var head = new ManagedEngine().Create(spec, new TrainingOptions());
        var good = head.GetWeights();

        var transposed = good.Select(w => w.Name == "2.weight" ? new NamedTensor("2.weight", [4, 2], w.Data) : w).ToArray();
        var error = Assert.Throws<ArgumentException>(() => head.SetWeights(transposed));
        Assert.Contains("'2.weight'", error.Message);
        Assert.Contains("[4, 2]", error.Message);
        Assert.Contains("[2, 4]", error.Message);

        var renamed = good.Select(w => w.Name == "0.bias" ? new NamedTensor("1.bias", w.Shape, w.Data) : w).ToArray();
        error = Assert.Throws<ArgumentException>(() => head.SetWeights(renamed));
        Assert.Contains("'1.bias'", error.Message);
        Assert.Contains("0.bias [4]", error.Message);

        error = Assert.Throws<ArgumentException>(() => head.SetWeights(good.Take(3).ToArray()));
        Assert.Contains("lack tensor '2.bias'", error.Message);

        var withNaN = good.Select(w => w.Clone()).ToArray();
        withNaN[1].Data[2] = float.NaN;
        error = Assert.Throws<ArgumentException>(() => head.SetWeights(withNaN));
        Assert.Contains("'0.bias'", error.Message);

        // A failed SetWeights leaves the model untouched.
        Assert.Equal(good.SelectMany(w => w.Data), head.GetWeights().SelectMany(w => w.Data));
    }

    [Fact]
    public void Bad_inputs_give_errors_that_say_what_is_wrong()
    {
        var spec = new HeadSpec([3, 2], LossKind.SoftmaxCrossEntropy);
        using var head = new ManagedEngine().Create(spec, new TrainingOptions());
        var x = new float[6];

        Assert.Contains("class index 0..1", Assert.Throws<ArgumentException>(() => head.TrainStep(x, [0f, 2f], 2)).Message);
        Assert.Contains("class index", Assert.Throws<ArgumentException>(() => head.TrainStep(x, [0.5f, 1f], 2)).Message);
        Assert.Contains("needs exactly 9", Assert.Throws<ArgumentException>(() => head.TrainStep(x, [0f, 1f, 0f], 3)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => head.TrainStep(x, [0f], 0));
        Assert.Contains("needs 4", Assert.Throws<ArgumentException>(() => head.Predict(x, 2, new float[3])).Message);
        Assert.Contains("needs exactly 3", Assert.Throws<ArgumentException>(() => head.Predict(x, 1, new float[2])).Message);
        Assert.Equal(0, head.Steps);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ManagedEngine().Create(spec, new TrainingOptions { LearningRate = -1f }));
    }

    [Fact]
    public void Batches_of_different_sizes_reuse_and_grow_the_buffers_correctly()
    {
        var spec = new HeadSpec([4, 6, 3], LossKind.SoftmaxCrossEntropy);
        var random = new Random(8);
        var x = TrainingData.Inputs(random, 100, 4);
        using var head = new ManagedEngine().Create(spec, new TrainingOptions(), seed: 1);
        var small = new float[3 * 3];
        var large = new float[100 * 3];

        head.Predict(x.AsSpan(0, 3 * 4), 3, small);
        head.Predict(x, 100, large);
        var again = new float[3 * 3];
        head.Predict(x.AsSpan(0, 3 * 4), 3, again);

        Assert.Equal(small, large.AsSpan(0, 9).ToArray());
        Assert.Equal(small, again);
    }

    public static TheoryData<LossKind, OptimizerKind, bool> AllocationCases()
    {
        var data = new TheoryData<LossKind, OptimizerKind, bool>();
        foreach (var loss in Enum.GetValues<LossKind>())
            foreach (var optimizer in Enum.GetValues<OptimizerKind>())
                data.Add(loss, optimizer, loss == LossKind.SoftmaxCrossEntropy);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllocationCases))]
    public void Train_and_predict_allocate_nothing_after_warm_up(LossKind loss, OptimizerKind optimizer, bool withEwc)
    {
        var spec = new HeadSpec([16, 32, 16, 4], loss);
        var options = new TrainingOptions { Optimizer = optimizer, LearningRate = 0.01f, Momentum = 0.9f, WeightDecay = 1e-4f };
        using var head = new ManagedEngine().Create(spec, options, seed: 1);
        var random = new Random(4);
        const int batch = 32;
        var x = TrainingData.Inputs(random, batch, spec.InputSize);
        var t = TrainingData.Targets(random, spec, batch);
        if (withEwc)
            head.SetPenalty(new EwcPenalty(head.GetWeights(), head.FisherDiagonal(x, t, batch), 0.5f));
        var output = new float[batch * spec.OutputSize];
        for (var i = 0; i < 10; i++)
        {
            head.TrainStep(x, t, batch);
            head.Predict(x, batch, output);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var sum = 0f;
        for (var i = 0; i < 100; i++)
        {
            var b = i % 2 == 0 ? batch : batch / 2;
            sum += head.TrainStep(x.AsSpan(0, b * spec.InputSize), t.AsSpan(0, b * spec.TargetWidth), b);
            head.Predict(x.AsSpan(0, (i % 3 == 0 ? batch : 1) * spec.InputSize), i % 3 == 0 ? batch : 1, output);
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(float.IsFinite(sum));
        Assert.Equal(0, allocated);
    }

    private static void AssertWeights(IHeadModel head, float[] weight, float bias)
    {
        var w = head.GetWeights();
        Assert.Equal(weight[0], w[0].Data[0], 6);
        Assert.Equal(weight[1], w[0].Data[1], 6);
        Assert.Equal(bias, w[1].Data[0], 6);
    }
}
