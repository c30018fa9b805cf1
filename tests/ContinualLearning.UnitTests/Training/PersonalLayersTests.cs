using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Training;

/// <summary>Splitting a head into shared and personal layers, and merging a fleet head with a device's personal layers.</summary>
public sealed class PersonalLayersTests
{
    private static readonly HeadSpec Spec = new([4, 6, 3], LossKind.SoftmaxCrossEntropy);

    [Fact]
    public void The_last_layers_are_personal_and_one_layer_must_stay_shared()
    {
        Assert.Empty(PersonalLayers.TensorNames(Spec, 0));
        Assert.Equal(["2.bias", "2.weight"], PersonalLayers.TensorNames(Spec, 1).Order(StringComparer.Ordinal));
        Assert.Equal(["2.bias", "2.weight", "4.bias", "4.weight"],
            PersonalLayers.TensorNames(new HeadSpec([4, 6, 5, 3], LossKind.SoftmaxCrossEntropy), 2).Order(StringComparer.Ordinal));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => PersonalLayers.TensorNames(Spec, 2));
        Assert.Contains("0–1", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => PersonalLayers.TensorNames(new HeadSpec([4, 3], LossKind.SoftmaxCrossEntropy), 1));
    }

    [Fact]
    public void Shared_drops_the_personal_tensors_and_keeps_the_order()
    {
        var weights = HeadInitializer.Initialize(Spec, seed: 1);
        Assert.Same(weights, PersonalLayers.Shared(weights, PersonalLayers.TensorNames(Spec, 0)));
        Assert.Equal(["0.weight", "0.bias"], PersonalLayers.Shared(weights, PersonalLayers.TensorNames(Spec, 1)).Select(t => t.Name));
    }

    [Fact]
    public void Merge_takes_shared_tensors_from_the_fleet_and_personal_ones_from_the_device()
    {
        var fleet = HeadInitializer.Initialize(Spec, seed: 1);
        var own = HeadInitializer.Initialize(Spec, seed: 2);
        var (merged, kept) = PersonalLayers.Merge(Spec, fleet, own, 1);
        Assert.True(kept);
        Assert.Equal(fleet[0].Data, merged[0].Data);
        Assert.Equal(fleet[1].Data, merged[1].Data);
        Assert.Equal(own[2].Data, merged[2].Data);
        Assert.Equal(own[3].Data, merged[3].Data);
        // Copies: changing the merge does not change its inputs.
        merged[0].Data[0] += 1;
        Assert.NotEqual(merged[0].Data[0], fleet[0].Data[0]);
    }

    [Fact]
    public void A_grown_fleet_label_space_keeps_the_device_rows_by_map_and_takes_the_fleet_row_for_a_new_class()
    {
        var grown = new HeadSpec([4, 6, 4], LossKind.SoftmaxCrossEntropy);
        var fleet = HeadInitializer.Initialize(grown, seed: 1);
        var own = HeadInitializer.Initialize(Spec, seed: 2);
        // Fleet labels a, b, d, c; the device has a, b, c: d is new, c moved from row 2 to row 3.
        var (merged, kept) = PersonalLayers.Merge(grown, fleet, own, 1, [0, 1, -1, 2]);
        Assert.True(kept);
        Assert.Equal(own[2].Data.AsSpan(0, 12).ToArray(), merged[2].Data.AsSpan(0, 12).ToArray());
        Assert.Equal(fleet[2].Data.AsSpan(12, 6).ToArray(), merged[2].Data.AsSpan(12, 6).ToArray());
        Assert.Equal(own[2].Data.AsSpan(12, 6).ToArray(), merged[2].Data.AsSpan(18, 6).ToArray());
        Assert.Equal([own[3].Data[0], own[3].Data[1], fleet[3].Data[2], own[3].Data[2]], merged[3].Data);
    }

    [Fact]
    public void A_personal_layer_that_no_longer_fits_takes_the_fleet_values()
    {
        var wider = new HeadSpec([4, 8, 3], LossKind.SoftmaxCrossEntropy);
        var fleet = HeadInitializer.Initialize(wider, seed: 1);
        var (merged, kept) = PersonalLayers.Merge(wider, fleet, HeadInitializer.Initialize(Spec, seed: 2), 1);
        Assert.False(kept);
        Assert.Equal(fleet.Select(t => t.Data), merged.Select(t => t.Data));
    }
}
