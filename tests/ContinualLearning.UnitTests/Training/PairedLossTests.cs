using ContinualLearning.Replay;
using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>The standard error of a paired mean loss difference: the noise a cluster report's local advantage is weighed against.</summary>
public sealed class PairedLossTests
{
    [Fact]
    public void Standard_error_is_the_sample_deviation_of_the_differences_over_root_n()
    {
        // d = 0.1, 0.2, 0.3, 0.4: mean 0.25, squared deviations 0.05 in all, s² = 0.05 / 3, SE = √(s² / 4).
        double[] cluster = [0.5, 0.7, 0.9, 1.1];
        double[] local = [0.4, 0.5, 0.6, 0.7];
        Assert.Equal(Math.Sqrt(0.05 / 3 / 4), PairedLoss.StandardError(cluster, local)!.Value, 12);
    }

    [Fact]
    public void A_constant_difference_has_no_noise_and_pairing_removes_the_shared_variance()
    {
        // Both models find the same samples hard: the losses vary a lot, their difference not at all.
        double[] cluster = [0.1, 3.0, 0.2, 5.0];
        Assert.Equal(0, PairedLoss.StandardError([.. cluster.Select(l => l + 0.3)], cluster)!.Value, 12);
    }

    [Fact]
    public void Fewer_than_two_pairs_or_a_non_finite_loss_give_none()
    {
        Assert.Null(PairedLoss.StandardError([1.0], [0.5]));
        Assert.Null(PairedLoss.StandardError([], []));
        Assert.Null(PairedLoss.StandardError([1.0, double.NaN], [0.5, 0.5]));
        Assert.Null(PairedLoss.StandardError([1.0, double.PositiveInfinity], [0.5, 0.5]));
        Assert.Throws<ArgumentException>(() => PairedLoss.StandardError([1.0, 2.0], [1.0]));
    }

    [Fact]
    public void Per_sample_losses_average_to_the_mean_loss()
    {
        using var head = new ManagedEngine().Create(new HeadSpec([2, 3], LossKind.SoftmaxCrossEntropy), new TrainingOptions(),
            [new NamedTensor("0.weight", [3, 2], [1, 0, 0, 1, 0, 0]), new NamedTensor("0.bias", [3], [0, 0, 0])]);
        TrainingSample[] samples = [.. Enumerable.Range(0, 70).Select(i => new TrainingSample(i, [i % 3, i % 5 - 2], SampleLabel.Class(i % 3)))];
        var losses = HeadLoss.PerSample(head, samples);
        Assert.Equal(70, losses.Length);
        Assert.Equal(HeadLoss.Mean(head, samples), losses.Average(), 12);
        // Logits (x₀, x₁, 0) by hand for the first sample: x = (0, −2), label 0.
        Assert.Equal(-Math.Log(1 / (1 + Math.Exp(-2) + 1)), losses[0], 5);
    }
}
