using ContinualLearning.Aggregator.Strategies;
using System.Numerics.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.Benchmarks.Aggregator;

/// <summary>One device's labelled samples of a round (standardised features, row-major) and who it is.</summary>
internal sealed record DeviceRound(int Device, int Group, int Concept, float[] X, float[] Y, int Count)
{
    public string Id => $"device-{Device:D2}";
}

/// <summary>The device side every method shares: train the managed engine from a model on a round's samples, score a model.</summary>
internal sealed class DeviceTrainer(HeadSpec head, TrainingOptions options, int steps, int batch)
{
    private readonly ManagedEngine _engine = new();

    public HeadSpec Head => head;

    public int SamplesPerRound => steps * batch;

    public float[] Initial(int seed) => ParameterVector.Flatten(HeadInitializer.Initialize(head, seed), head);

    /// <summary>
    /// The model after <c>steps</c> micro-batches of SGD from <paramref name="start"/> on the round's samples; with
    /// <paramref name="proximalMu"/> &gt; 0, FedProx's proximal term anchored at <paramref name="start"/> (the product's
    /// <see cref="ProximalPenalty"/>).
    /// </summary>
    public float[] Train(float[] start, DeviceRound data, float proximalMu = 0)
    {
        var startWeights = ParameterVector.Unflatten(start, head);
        using var model = _engine.Create(head, options, startWeights);
        if (proximalMu > 0) model.SetPenalty(ProximalPenalty.Combine(null, startWeights, proximalMu));
        var features = head.LayerSizes[0];
        for (var s = 0; s < steps; s++)
            model.TrainStep(data.X.AsSpan(s * batch * features, batch * features), data.Y.AsSpan(s * batch, batch), batch);
        return ParameterVector.Flatten(model.GetWeights(), head);
    }

    /// <summary>Accuracy (arg-max class) and mean cross-entropy of <paramref name="weights"/> on the round's samples.</summary>
    public (double Accuracy, double Loss) Score(float[] weights, DeviceRound data)
    {
        using var model = _engine.Create(head, options, ParameterVector.Unflatten(weights, head));
        var classes = head.LayerSizes[^1];
        var output = new float[data.Count * classes];
        model.Predict(data.X, data.Count, output);
        var correct = 0;
        double loss = 0;
        for (var i = 0; i < data.Count; i++)
        {
            var label = (int)data.Y[i];
            var row = output.AsSpan(i * classes, classes);
            // Ties go to the lower class, as the two-class comparison did.
            if (row.IndexOf(TensorPrimitives.Max(row)) == label) correct++;
            loss -= Math.Log(Math.Max(row[label], 1e-7));
        }
        return ((double)correct / data.Count, loss / data.Count);
    }

    /// <summary>The cross-entropy of <paramref name="weights"/> on each of the round's samples (their mean is <see cref="Score"/>'s loss).</summary>
    public double[] Losses(float[] weights, DeviceRound data)
    {
        using var model = _engine.Create(head, options, ParameterVector.Unflatten(weights, head));
        var classes = head.LayerSizes[^1];
        var output = new float[data.Count * classes];
        model.Predict(data.X, data.Count, output);
        var losses = new double[data.Count];
        for (var i = 0; i < data.Count; i++) losses[i] = -Math.Log(Math.Max(output[(i * classes) + (int)data.Y[i]], 1e-7));
        return losses;
    }

    public static float[] Delta(float[] trained, float[] start)
    {
        var delta = new float[trained.Length];
        for (var i = 0; i < delta.Length; i++) delta[i] = trained[i] - start[i];
        return delta;
    }

    public static void AddInPlace(float[] model, float[] update)
    {
        for (var i = 0; i < model.Length; i++) model[i] += update[i];
    }
}
