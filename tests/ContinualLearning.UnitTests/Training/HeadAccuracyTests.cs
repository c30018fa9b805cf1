using ContinualLearning.Tensors;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>The one accuracy rule of held-out scoring: the highest probability wins, ties go to the lower class.</summary>
public sealed class HeadAccuracyTests
{
    // Logits = x₀, x₁, 0: each input picks the class of its largest coordinate, or class 2 when both are negative.
    private static IHeadModel Head() => new ManagedEngine().Create(new HeadSpec([2, 3], LossKind.SoftmaxCrossEntropy), new TrainingOptions(),
        [new NamedTensor("0.weight", [3, 2], [1, 0, 0, 1, 0, 0]), new NamedTensor("0.bias", [3], [0, 0, 0])]);

    [Fact]
    public void Counts_the_rows_whose_most_probable_class_is_the_label()
    {
        using var head = Head();
        float[] x = [5, 0, 0, 5, -5, -5, 1, 3];

        Assert.Equal(1.0, HeadAccuracy.Of(head, x, [0, 1, 2, 1]));
        Assert.Equal(0.5, HeadAccuracy.Of(head, x, [0, 0, 2, 2]));
        Assert.Equal(0.0, HeadAccuracy.Of(head, x, [1, 2, 0, 0]));
    }

    [Fact]
    public void A_tie_goes_to_the_lower_class_and_no_rows_score_zero()
    {
        using var head = Head();

        Assert.Equal(1.0, HeadAccuracy.Of(head, [0, 0], [0]));
        Assert.Equal(0.0, HeadAccuracy.Of(head, [0, 0], [2]));
        Assert.Equal(0.0, HeadAccuracy.Of(head, [], []));
    }
}
