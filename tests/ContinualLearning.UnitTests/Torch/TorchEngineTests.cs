using ContinualLearning.Tensors;
using ContinualLearning.Torch;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Torch;

public sealed class TorchEngineTests
{
    private readonly ITestOutputHelper _output;
    private readonly TorchEngine _engine = new();

    public TorchEngineTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Libtorch_loads_after_a_plain_build()
    {
        // The point of build/TorchSharp.targets: a fresh clone's `dotnet test` can run TorchSharp.
        Assert.True(TorchEngine.IsAvailable, TorchEngine.UnavailableReason);
        Assert.Null(TorchEngine.UnavailableReason);
        Assert.Equal("torch", _engine.Name);
    }

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy, OptimizerKind.Adam)]
    [InlineData(LossKind.SoftmaxCrossEntropy, OptimizerKind.Sgd)]
    [InlineData(LossKind.BinaryCrossEntropy, OptimizerKind.Adam)]
    [InlineData(LossKind.BinaryCrossEntropy, OptimizerKind.Sgd)]
    [InlineData(LossKind.MeanSquaredError, OptimizerKind.Adam)]
    [InlineData(LossKind.MeanSquaredError, OptimizerKind.Sgd)]
    public void Training_reduces_loss_on_a_separable_problem(LossKind loss, OptimizerKind optimizer)
    {
        var data = Synthetic.Make(loss, samples: 256, seed: 3);
        var options = optimizer == OptimizerKind.Adam
            ? new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 0.01f }
            : new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1f, Momentum = 0.9f };
        using var model = _engine.Create(data.Spec, options, seed: 11);

        var before = FullBatchLoss(data.Spec, model.GetWeights(), data);
        for (var epoch = 0; epoch < 20; epoch++)
            for (var b = 0; b < data.Count / 32; b++)
                model.TrainStep(data.X.AsSpan(b * 32 * data.Spec.InputSize, 32 * data.Spec.InputSize),
                                data.Y.AsSpan(b * 32 * data.Spec.TargetWidth, 32 * data.Spec.TargetWidth), 32);
        var after = FullBatchLoss(data.Spec, model.GetWeights(), data);

        var predictions = new float[data.Count * data.Spec.OutputSize];
        model.Predict(data.X, data.Count, predictions);
        var quality = data.Quality(predictions);
        _output.WriteLine($"{loss}/{optimizer}: loss {before:F4} -> {after:F4}, quality {quality:F3}, steps {model.Steps}");
        Assert.Equal(20 * (data.Count / 32), model.Steps);
        Assert.True(after < 0.5f * before, $"loss only went from {before} to {after}");
        Assert.True(quality > 0.9, $"quality {quality}");
    }

    [Fact]
    public void Create_without_weights_uses_the_shared_initializer()
    {
        var spec = new HeadSpec([6, 10, 3], LossKind.SoftmaxCrossEntropy);
        using var model = _engine.Create(spec, new TrainingOptions(), seed: 5);
        AssertSameWeights(HeadInitializer.Initialize(spec, 5), model.GetWeights());
    }

    [Fact]
    public void Weights_round_trip_and_reproduce_predictions()
    {
        var data = Synthetic.Make(LossKind.SoftmaxCrossEntropy, samples: 64, seed: 1);
        using var a = _engine.Create(data.Spec, new TrainingOptions { LearningRate = 0.05f }, seed: 1);
        for (var i = 0; i < 5; i++) a.TrainStep(data.X, data.Y, data.Count);
        var trained = a.GetWeights();

        using var b = _engine.Create(data.Spec, new TrainingOptions(), seed: 2);
        // Shuffled order: SetWeights matches by name.
        b.SetWeights(trained.Reverse().Select(t => t.Clone()).ToArray());

        AssertSameWeights(trained, b.GetWeights());
        Assert.Equal(data.Spec.Parameters().Select(p => p.Name), b.GetWeights().Select(t => t.Name));
        var pa = new float[data.Count * 2];
        var pb = new float[data.Count * 2];
        a.Predict(data.X, data.Count, pa);
        b.Predict(data.X, data.Count, pb);
        Assert.Equal(pa, pb);
        // GetWeights returns copies: mutating them does not touch the model.
        trained[0].Data[0] += 1f;
        Assert.NotEqual(trained[0].Data[0], a.GetWeights()[0].Data[0]);
    }

    [Fact]
    public void SetWeights_resets_the_optimiser_state()
    {
        var data = Synthetic.Make(LossKind.MeanSquaredError, samples: 32, seed: 4);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05f, Momentum = 0.9f };
        using var fresh = _engine.Create(data.Spec, options, seed: 7);
        using var reused = _engine.Create(data.Spec, options, seed: 7);
        for (var i = 0; i < 3; i++) reused.TrainStep(data.X, data.Y, data.Count);

        reused.SetWeights(fresh.GetWeights());
        fresh.TrainStep(data.X, data.Y, data.Count);
        reused.TrainStep(data.X, data.Y, data.Count);

        // Without the reset, the momentum buffer from the earlier steps would push `reused` elsewhere.
        AssertSameWeights(fresh.GetWeights(), reused.GetWeights());
    }

    [Fact]
    public void SetWeights_with_a_wrong_shape_names_the_tensor()
    {
        var spec = new HeadSpec([4, 3], LossKind.MeanSquaredError);
        using var model = _engine.Create(spec, new TrainingOptions());
        var bad = new[] { new NamedTensor("0.weight", [4, 3], new float[12]), new NamedTensor("0.bias", [3], new float[3]) };
        var ex = Assert.Throws<ArgumentException>(() => model.SetWeights(bad));
        Assert.Contains("'0.weight'", ex.Message);
        Assert.Contains("[3, 4]", ex.Message);
    }

    [Fact]
    public void Cross_entropy_rejects_a_target_that_is_not_a_class_index()
    {
        var spec = new HeadSpec([2, 3], LossKind.SoftmaxCrossEntropy);
        using var model = _engine.Create(spec, new TrainingOptions());
        var ex = Assert.Throws<ArgumentException>(() => model.TrainStep([0f, 1f, 1f, 0f], [1f, 3f], 2));
        Assert.Contains("row 1", ex.Message);
    }

    [Fact]
    public void Sgd_step_matches_the_hand_computed_gradient_with_weight_decay()
    {
        // Linear MSE head, 1 output: loss = mean_b (w·x_b + c − y_b)²; grad_w = 2/B Σ r_b x_b; grad_c = 2/B Σ r_b.
        var spec = new HeadSpec([3, 1], LossKind.MeanSquaredError);
        float[] w = [0.5f, -0.25f, 0.1f];
        var c = 0.2f;
        float[] x = [1f, 2f, 3f, -1f, 0.5f, 2f];
        float[] y = [1f, -2f];
        const float lr = 0.1f, wd = 0.01f;
        using var model = _engine.Create(spec, new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr, WeightDecay = wd },
            [new NamedTensor("0.weight", [1, 3], (float[])w.Clone()), new NamedTensor("0.bias", [1], [c])]);

        var gw = new double[3];
        double gc = 0, expectedLoss = 0;
        for (var b = 0; b < 2; b++)
        {
            var r = w[0] * x[3 * b] + w[1] * x[3 * b + 1] + w[2] * x[3 * b + 2] + c - y[b];
            expectedLoss += r * r / 2;
            for (var j = 0; j < 3; j++) gw[j] += 2.0 / 2 * r * x[3 * b + j];
            gc += 2.0 / 2 * r;
        }

        var loss = model.TrainStep(x, y, 2);
        var after = model.GetWeights();

        Assert.Equal(expectedLoss, loss, 4);
        for (var j = 0; j < 3; j++)
            Assert.Equal(w[j] - lr * (gw[j] + wd * w[j]), after[0].Data[j], 5);
        Assert.Equal(c - lr * (gc + wd * c), after[1].Data[0], 5);
    }

    [Fact]
    public void Adam_first_step_moves_each_weight_by_about_the_learning_rate()
    {
        var data = Synthetic.Make(LossKind.BinaryCrossEntropy, samples: 16, seed: 9);
        using var model = _engine.Create(data.Spec, new TrainingOptions { Optimizer = OptimizerKind.Adam, LearningRate = 0.01f }, seed: 3);
        var before = model.GetWeights();
        model.TrainStep(data.X, data.Y, data.Count);
        var after = model.GetWeights();
        // Bias-corrected first Adam step: m̂/(√v̂+ε) = g/(|g|+ε) → |Δ| = lr for every weight with a non-tiny gradient.
        var moves = before.Zip(after).SelectMany(p => p.First.Data.Zip(p.Second.Data, (u, v) => MathF.Abs(u - v))).ToArray();
        Assert.True(moves.Count(m => MathF.Abs(m - 0.01f) < 1e-4f) > moves.Length / 2, string.Join(", ", moves.Take(10)));
        Assert.All(moves, m => Assert.True(m <= 0.01f + 1e-5f));
    }

    [Fact]
    public void Ewc_penalty_is_added_to_the_loss_and_cleared_by_null()
    {
        var data = Synthetic.Make(LossKind.MeanSquaredError, samples: 16, seed: 2);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 1e-6f };
        using var plain = _engine.Create(data.Spec, options, seed: 4);
        using var penalised = _engine.Create(data.Spec, options, seed: 4);
        var weights = penalised.GetWeights();
        // Anchor = θ + 1 everywhere, F = 0.5 everywhere, λ = 3: penalty = 3/2 · Σ 0.5 · 1 = 0.75 · N.
        var anchor = weights.Select(t => new NamedTensor(t.Name, t.Shape, t.Data.Select(v => v + 1f).ToArray())).ToArray();
        var fisher = weights.Select(t => new NamedTensor(t.Name, t.Shape, Enumerable.Repeat(0.5f, t.Count).ToArray())).ToArray();
        var n = weights.Sum(t => t.Count);
        penalised.SetPenalty(new EwcPenalty(anchor, fisher, 3f));

        var dataLoss = plain.TrainStep(data.X, data.Y, data.Count);
        var total = penalised.TrainStep(data.X, data.Y, data.Count);
        Assert.Equal(dataLoss + 0.75f * n, total, 2);

        penalised.SetPenalty(null);
        var again = plain.TrainStep(data.X, data.Y, data.Count);
        Assert.Equal(again, penalised.TrainStep(data.X, data.Y, data.Count), 3);
    }

    [Fact]
    public void Ewc_penalty_holds_weights_near_the_anchor()
    {
        var data = Synthetic.Make(LossKind.SoftmaxCrossEntropy, samples: 64, seed: 8);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05f };
        using var free = _engine.Create(data.Spec, options, seed: 1);
        using var held = _engine.Create(data.Spec, options, seed: 1);
        var anchor = held.GetWeights();
        var fisher = anchor.Select(t => new NamedTensor(t.Name, t.Shape, Enumerable.Repeat(1f, t.Count).ToArray())).ToArray();
        held.SetPenalty(new EwcPenalty(anchor, fisher, 10f));
        for (var i = 0; i < 50; i++)
        {
            free.TrainStep(data.X, data.Y, data.Count);
            held.TrainStep(data.X, data.Y, data.Count);
        }
        double Drift(IHeadModel m) => m.GetWeights().Zip(anchor).Sum(p => p.First.Data.Zip(p.Second.Data, (u, v) => (double)(u - v) * (u - v)).Sum());
        _output.WriteLine($"squared drift: free {Drift(free):F5}, EWC {Drift(held):F5}");
        Assert.True(Drift(held) < 0.5 * Drift(free));
    }

    [Fact]
    public void Fisher_diagonal_is_the_mean_squared_per_sample_gradient()
    {
        // Linear MSE head with 1 output: per-sample grad_w = 2 r x, grad_c = 2 r, r = w·x + c − y.
        var spec = new HeadSpec([2, 1], LossKind.MeanSquaredError);
        float[] w = [0.3f, -0.7f];
        var c = 0.1f;
        float[] x = [1f, 2f, -1f, 0.5f, 3f, -2f];
        float[] y = [0.5f, -1f, 2f];
        using var model = _engine.Create(spec, new TrainingOptions(),
            [new NamedTensor("0.weight", [1, 2], (float[])w.Clone()), new NamedTensor("0.bias", [1], [c])]);

        var fw = new double[2];
        double fc = 0;
        for (var s = 0; s < 3; s++)
        {
            var r = w[0] * x[2 * s] + w[1] * x[2 * s + 1] + c - y[s];
            for (var j = 0; j < 2; j++) fw[j] += Math.Pow(2 * r * x[2 * s + j], 2) / 3;
            fc += Math.Pow(2 * r, 2) / 3;
        }

        var fisher = model.FisherDiagonal(x, y, 3);

        Assert.Equal(["0.weight", "0.bias"], fisher.Select(f => f.Name));
        Assert.Equal(fw[0], fisher[0].Data[0], 4);
        Assert.Equal(fw[1], fisher[0].Data[1], 4);
        Assert.Equal(fc, fisher[1].Data[0], 4);
        Assert.Equal(0, model.Steps);
        AssertSameWeights([new NamedTensor("0.weight", [1, 2], w), new NamedTensor("0.bias", [1], [c])], model.GetWeights());
    }

    [Fact]
    public void Predict_returns_probabilities_for_classifiers()
    {
        var ce = Synthetic.Make(LossKind.SoftmaxCrossEntropy, samples: 8, seed: 5);
        using var m = _engine.Create(ce.Spec, new TrainingOptions(), seed: 3);
        var p = new float[8 * 2];
        m.Predict(ce.X, 8, p);
        for (var r = 0; r < 8; r++) Assert.Equal(1f, p[2 * r] + p[2 * r + 1], 5);

        var bce = Synthetic.Make(LossKind.BinaryCrossEntropy, samples: 8, seed: 5);
        using var mb = _engine.Create(bce.Spec, new TrainingOptions(), seed: 3);
        var q = new float[8];
        mb.Predict(bce.X, 8, q);
        Assert.All(q, v => Assert.InRange(v, 0f, 1f));
        Assert.Contains(q, v => MathF.Abs(v - 0.5f) > 1e-4f);
    }

    internal static void AssertSameWeights(IReadOnlyList<NamedTensor> expected, IReadOnlyList<NamedTensor> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }

    /// <summary>Loss of the given weights on the whole data set, measured by a throwaway model with SGD lr→0.</summary>
    private float FullBatchLoss(HeadSpec spec, IReadOnlyList<NamedTensor> weights, Synthetic data)
    {
        using var probe = _engine.Create(spec, new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 1e-30f }, weights);
        return probe.TrainStep(data.X, data.Y, data.Count);
    }
}
