using ContinualLearning.Replay;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>The loss a cluster report compares: each head scored by its own loss, in nats, on the same samples.</summary>
public sealed class HeadLossTests
{
    // Logits = x₀, x₁, 0.
    private static IHeadModel Softmax() => new ManagedEngine().Create(new HeadSpec([2, 3], LossKind.SoftmaxCrossEntropy), new TrainingOptions(),
        [new NamedTensor("0.weight", [3, 2], [1, 0, 0, 1, 0, 0]), new NamedTensor("0.bias", [3], [0, 0, 0])]);

    private static TrainingSample Sample(long id, float a, float b, int label) => new(id, [a, b], SampleLabel.Class(label));

    [Fact]
    public void Softmax_loss_is_the_mean_negative_log_probability_of_the_label()
    {
        using var head = Softmax();
        TrainingSample[] samples = [Sample(1, 2, 0, 0), Sample(2, 0, 1, 2), Sample(3, 0, 0, 1)];

        // p = softmax(x₀, x₁, 0) by hand.
        var expected = (-Math.Log(Math.Exp(2) / (Math.Exp(2) + 2)) - Math.Log(1 / (Math.E + 2)) - Math.Log(1.0 / 3)) / 3;
        Assert.Equal(expected, HeadLoss.Mean(head, samples), 5);
    }

    [Fact]
    public void More_rows_than_one_block_give_the_mean_over_all_of_them()
    {
        using var head = Softmax();
        var samples = Enumerable.Range(0, 70).Select(i => Sample(i, i % 2 == 0 ? 3 : 0, 0, i % 2 == 0 ? 0 : 1)).ToArray();

        var good = -Math.Log(Math.Exp(3) / (Math.Exp(3) + 2));
        var bad = -Math.Log(1.0 / 3);
        Assert.Equal((35 * good + 35 * bad) / 70, HeadLoss.Mean(head, samples), 5);
    }

    [Fact]
    public void Classes_map_by_the_heads_rows_and_a_missing_class_or_width_is_refused()
    {
        using var head = Softmax();
        TrainingSample[] samples = [Sample(1, 2, 0, 1)];

        // The samples' class 1 is the head's row 0.
        Assert.Equal(HeadLoss.Mean(head, [Sample(1, 2, 0, 0)]), HeadLoss.Mean(head, samples, [2, 0]), 10);
        Assert.Throws<ArgumentException>(() => HeadLoss.Mean(head, samples, [0, -1]));
        Assert.Throws<ArgumentException>(() => HeadLoss.Mean(head, [new TrainingSample(1, [1, 2, 3], SampleLabel.Class(0))]));
        Assert.Throws<ArgumentException>(() => HeadLoss.Mean(head, []));
    }

    [Fact]
    public void Regression_loss_is_the_mean_squared_error()
    {
        using var head = new ManagedEngine().Create(new HeadSpec([1, 1], LossKind.MeanSquaredError), new TrainingOptions(),
            [new NamedTensor("0.weight", [1, 1], [2]), new NamedTensor("0.bias", [1], [0])]);

        var loss = HeadLoss.Mean(head, [new TrainingSample(1, [1], SampleLabel.FromValues([3f])), new TrainingSample(2, [2], SampleLabel.FromValues([4f]))]);

        Assert.Equal((1.0 + 0.0) / 2, loss, 6);
    }
}
