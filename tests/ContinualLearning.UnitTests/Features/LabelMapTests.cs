using ContinualLearning.Features;

namespace ContinualLearning.UnitTests.Features;

public sealed class LabelMapTests
{
    private static readonly LabelMap Labels = new(["DOWN", "UP", "FLAT"]);

    [Fact]
    public void Name_and_index_round_trip()
    {
        for (var i = 0; i < Labels.Count; i++)
            Assert.Equal(i, Labels.IndexOf(Labels.NameOf(i)));
        Assert.Equal(2, Labels.IndexOf("FLAT"));
    }

    [Fact]
    public void Unknown_label_lists_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => Labels.IndexOf("up"));

        Assert.Contains("Unknown label 'up'", e.Message);
        Assert.Contains("'DOWN', 'UP', 'FLAT'", e.Message);
        Assert.False(Labels.TryGetIndex("up", out _));
    }

    [Fact]
    public void Index_out_of_range_is_rejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Labels.NameOf(3));
        Assert.Contains("outside [0, 3)", e.Message);
    }

    [Fact]
    public void Duplicate_or_too_few_labels_are_rejected()
    {
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => new LabelMap(["a", "a"])).Message);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() => new LabelMap(["a"])).Message);
    }
}
