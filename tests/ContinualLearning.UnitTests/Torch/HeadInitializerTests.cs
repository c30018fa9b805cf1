using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Torch;

public sealed class HeadInitializerTests
{
    private static readonly HeadSpec Spec = new([5, 7, 3], LossKind.SoftmaxCrossEntropy);

    [Fact]
    public void Names_and_shapes_follow_the_spec()
    {
        var weights = HeadInitializer.Initialize(Spec, seed: 1);
        Assert.Equal(Spec.Parameters().Select(p => p.Name), weights.Select(w => w.Name));
        Assert.Equal(Spec.Parameters().Select(p => p.Shape), weights.Select(w => w.Shape));
    }

    [Fact]
    public void Same_seed_same_weights_other_seed_other_weights()
    {
        var a = HeadInitializer.Initialize(Spec, 42);
        var b = HeadInitializer.Initialize(Spec, 42);
        var c = HeadInitializer.Initialize(Spec, 43);
        Assert.Equal(a.SelectMany(t => t.Data), b.SelectMany(t => t.Data));
        Assert.NotEqual(a.SelectMany(t => t.Data), c.SelectMany(t => t.Data));
    }

    [Fact]
    public void Values_lie_within_the_pytorch_bound_and_fill_it()
    {
        var spec = new HeadSpec([64, 256, 2], LossKind.SoftmaxCrossEntropy);
        var weights = HeadInitializer.Initialize(spec, 7);
        foreach (var t in weights)
        {
            var fanIn = spec.LayerSizes[int.Parse(t.Name.Split('.')[0]) / 2];
            var bound = 1f / MathF.Sqrt(fanIn);
            Assert.All(t.Data, v => Assert.InRange(v, -bound, bound));
            if (t.Count >= 256)
            {
                // U(-b, b) has |x| mean b/2 and reaches close to the edges.
                Assert.InRange(t.Data.Average(MathF.Abs), 0.4f * bound, 0.6f * bound);
                Assert.True(t.Data.Max() > 0.9f * bound);
            }
        }
    }
}
