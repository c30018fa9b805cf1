using ContinualLearning.Tensors;
using ContinualLearning.Torch;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>
/// The managed engine against the torch engine (the reference): same initial weights, same batches, 200 steps.
/// Agreement is per element: <c>|managed − torch| ≤ 1e-4 · max(1, |torch|)</c> for every weight and prediction.
/// The "max(1, ·)" makes it an absolute bound for values below 1 in magnitude, so weights that sit near zero
/// (where float rounding of different summation orders dominates) are not held to an impossible relative bound.
/// </summary>
public sealed class EngineParityTests
{
    private const int Steps = 200;
    private const int Batch = 16;
    private const double Tolerance = 1e-4;

    private readonly ITestOutputHelper _output;

    public EngineParityTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<LossKind, OptimizerKind> Pairs()
    {
        var data = new TheoryData<LossKind, OptimizerKind>();
        foreach (var loss in Enum.GetValues<LossKind>())
            foreach (var optimizer in Enum.GetValues<OptimizerKind>())
                data.Add(loss, optimizer);
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Both_engines_agree_after_200_steps(LossKind loss, OptimizerKind optimizer)
    {
        Assert.True(TorchEngine.IsAvailable, TorchEngine.UnavailableReason);
        var spec = new HeadSpec([8, 16, 12, loss == LossKind.MeanSquaredError ? 2 : 3], loss);
        var options = optimizer == OptimizerKind.Sgd
            ? new TrainingOptions { Optimizer = optimizer, LearningRate = 0.05f, Momentum = 0.9f, WeightDecay = 1e-3f }
            : new TrainingOptions { Optimizer = optimizer, LearningRate = 5e-3f, WeightDecay = 1e-3f };
        var initial = HeadInitializer.Initialize(spec, seed: 17);
        var random = new Random(23);
        const int pool = 256;
        var (x, t) = Problem(random, spec, pool);

        using var managed = new ManagedEngine().Create(spec, options, initial);
        using var reference = new TorchEngine().Create(spec, options, initial);

        var maxLossDifference = 0.0;
        for (var step = 0; step < Steps; step++)
        {
            var start = random.Next(pool - Batch);
            var xb = x.AsSpan(start * spec.InputSize, Batch * spec.InputSize);
            var tb = t.AsSpan(start * spec.TargetWidth, Batch * spec.TargetWidth);
            var a = managed.TrainStep(xb, tb, Batch);
            var b = reference.TrainStep(xb, tb, Batch);
            maxLossDifference = Math.Max(maxLossDifference, Relative(a, b));
        }

        var weightDifference = MaxRelative(managed.GetWeights(), reference.GetWeights(), out var worst, out var normRatio);
        var managedPredictions = new float[pool * spec.OutputSize];
        var torchPredictions = new float[pool * spec.OutputSize];
        managed.Predict(x, pool, managedPredictions);
        reference.Predict(x, pool, torchPredictions);
        var predictionDifference = managedPredictions.Zip(torchPredictions, Relative).Max();

        _output.WriteLine(
            $"{loss} × {optimizer}: max weight diff {weightDifference:E2} (at {worst}), ‖Δθ‖/‖θ‖ {normRatio:E2}, " +
            $"max prediction diff {predictionDifference:E2}, max loss diff {maxLossDifference:E2}");
        Assert.Equal(Steps, managed.Steps);
        Assert.Equal(Steps, reference.Steps);
        // The weights must have moved, or agreeing would prove nothing.
        Assert.True(MaxRelative(managed.GetWeights(), initial, out _, out _) > 1e-2, "training did not move the weights");
        Assert.True(weightDifference <= Tolerance, $"weights differ by {weightDifference:E3} (relative, at {worst}) after {Steps} steps");
        Assert.True(predictionDifference <= Tolerance, $"predictions differ by {predictionDifference:E3}");
        Assert.True(maxLossDifference <= Tolerance, $"losses differ by {maxLossDifference:E3}");
    }

    [Theory]
    [InlineData(LossKind.SoftmaxCrossEntropy)]
    [InlineData(LossKind.BinaryCrossEntropy)]
    [InlineData(LossKind.MeanSquaredError)]
    public void Fisher_diagonal_and_ewc_training_agree(LossKind loss)
    {
        Assert.True(TorchEngine.IsAvailable, TorchEngine.UnavailableReason);
        var spec = new HeadSpec([6, 10, 3], loss);
        var options = new TrainingOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05f, Momentum = 0.9f };
        var initial = HeadInitializer.Initialize(spec, seed: 5);
        var random = new Random(6);
        const int count = 64;
        var (x, t) = Problem(random, spec, count);
        using var managed = new ManagedEngine().Create(spec, options, initial);
        using var reference = new TorchEngine().Create(spec, options, initial);

        var managedFisher = managed.FisherDiagonal(x, t, count);
        var torchFisher = reference.FisherDiagonal(x, t, count);
        var fisherDifference = MaxRelative(managedFisher, torchFisher, out var worstFisher, out _);

        var penalty = new EwcPenalty(initial, torchFisher, Lambda: 50f);
        managed.SetPenalty(penalty);
        reference.SetPenalty(penalty);
        for (var step = 0; step < 100; step++)
        {
            var start = random.Next(count - Batch);
            var xb = x.AsSpan(start * spec.InputSize, Batch * spec.InputSize);
            var tb = t.AsSpan(start * spec.TargetWidth, Batch * spec.TargetWidth);
            var a = managed.TrainStep(xb, tb, Batch);
            var b = reference.TrainStep(xb, tb, Batch);
            Assert.True(Relative(a, b) <= Tolerance, $"step {step}: loss {a} vs torch {b}");
        }
        var weightDifference = MaxRelative(managed.GetWeights(), reference.GetWeights(), out var worst, out _);

        _output.WriteLine($"{loss}: max Fisher diff {fisherDifference:E2} (at {worstFisher}), max weight diff with EWC {weightDifference:E2} (at {worst})");
        Assert.True(fisherDifference <= Tolerance, $"Fisher diagonals differ by {fisherDifference:E3} at {worstFisher}");
        Assert.True(weightDifference <= Tolerance, $"weights with EWC differ by {weightDifference:E3} at {worst}");
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.Adam)]
    public void Fedprox_training_agrees_alone_and_combined_with_ewc(OptimizerKind optimizer)
    {
        Assert.True(TorchEngine.IsAvailable, TorchEngine.UnavailableReason);
        var spec = new HeadSpec([6, 10, 3], LossKind.SoftmaxCrossEntropy);
        var options = new TrainingOptions { Optimizer = optimizer, LearningRate = 0.02f, Momentum = optimizer == OptimizerKind.Sgd ? 0.9f : 0f };
        var initial = HeadInitializer.Initialize(spec, seed: 5);
        var global = HeadInitializer.Initialize(spec, seed: 8);
        var random = new Random(7);
        const int count = 64;
        var (x, t) = Problem(random, spec, count);
        var fisher = initial.Select(w => new NamedTensor(w.Name, w.Shape, [.. w.Data.Select(_ => (float)random.NextDouble())])).ToArray();
        foreach (var penalty in new[]
                 {
                     ProximalPenalty.Combine(null, global, 0.5f, PersonalLayers.TensorNames(spec, 1)),
                     ProximalPenalty.Combine(new EwcPenalty(initial, fisher, 20f), global, 0.5f),
                 })
        {
            using var managed = new ManagedEngine().Create(spec, options, initial);
            using var reference = new TorchEngine().Create(spec, options, initial);
            managed.SetPenalty(penalty);
            reference.SetPenalty(penalty);
            for (var step = 0; step < 100; step++)
            {
                var start = random.Next(count - Batch);
                var a = managed.TrainStep(x.AsSpan(start * spec.InputSize, Batch * spec.InputSize), t.AsSpan(start, Batch), Batch);
                var b = reference.TrainStep(x.AsSpan(start * spec.InputSize, Batch * spec.InputSize), t.AsSpan(start, Batch), Batch);
                Assert.True(Relative(a, b) <= Tolerance, $"step {step}: loss {a} vs torch {b}");
            }
            var difference = MaxRelative(managed.GetWeights(), reference.GetWeights(), out var worst, out _);
            _output.WriteLine($"{optimizer}: max weight diff with FedProx {difference:E2} (at {worst})");
            Assert.True(difference <= Tolerance, $"weights with FedProx differ by {difference:E3} at {worst}");
        }
    }

    /// <summary>A learnable problem: targets from a fixed random teacher so training keeps making progress for 200 steps.</summary>
    private static (float[] X, float[] T) Problem(Random random, HeadSpec spec, int count)
    {
        var x = TrainingData.Inputs(random, count, spec.InputSize);
        var teacher = TrainingData.Inputs(random, spec.OutputSize, spec.InputSize);
        var t = new float[count * spec.TargetWidth];
        for (var s = 0; s < count; s++)
        {
            var scores = new double[spec.OutputSize];
            for (var o = 0; o < spec.OutputSize; o++)
                for (var i = 0; i < spec.InputSize; i++)
                    scores[o] += teacher[o * spec.InputSize + i] * x[s * spec.InputSize + i];
            for (var o = 0; o < spec.TargetWidth; o++)
            {
                t[s * spec.TargetWidth + o] = spec.Loss switch
                {
                    LossKind.SoftmaxCrossEntropy => Array.IndexOf(scores, scores.Max()),
                    LossKind.BinaryCrossEntropy => scores[o] > 0 ? 1 : 0,
                    _ => (float)Math.Tanh(scores[o]),
                };
            }
        }
        return (x, t);
    }

    private static double Relative(float managed, float torch) => Math.Abs(managed - torch) / Math.Max(1.0, Math.Abs(torch));

    private static double MaxRelative(IReadOnlyList<NamedTensor> managed, IReadOnlyList<NamedTensor> torch, out string worst, out double normRatio)
    {
        Assert.Equal(torch.Select(w => w.Name), managed.Select(w => w.Name));
        var max = -1.0;
        worst = "";
        double differenceSquares = 0, referenceSquares = 0;
        for (var i = 0; i < torch.Count; i++)
        {
            Assert.Equal(torch[i].Shape, managed[i].Shape);
            for (var j = 0; j < torch[i].Count; j++)
            {
                var r = Relative(managed[i].Data[j], torch[i].Data[j]);
                if (r > max)
                {
                    max = r;
                    worst = $"{torch[i].Name}[{j}]: managed {managed[i].Data[j]}, torch {torch[i].Data[j]}";
                }
                var d = (double)managed[i].Data[j] - torch[i].Data[j];
                differenceSquares += d * d;
                referenceSquares += (double)torch[i].Data[j] * torch[i].Data[j];
            }
        }
        normRatio = Math.Sqrt(differenceSquares / Math.Max(referenceSquares, double.Epsilon));
        return max;
    }
}
