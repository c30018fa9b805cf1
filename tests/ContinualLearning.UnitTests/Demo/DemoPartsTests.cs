using ContinualLearning.Cli.Demo;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Demo;

public sealed class DemoPartsTests
{
    [Theory]
    [InlineData("localhost:1883", "localhost", 1883)]
    [InlineData("broker.lan", "broker.lan", 1883)]
    [InlineData("mqtt://10.0.0.5:2883", "10.0.0.5", 2883)]
    [InlineData("[::1]:1884", "::1", 1884)]
    public void Broker_addresses_parse(string text, string host, int port) =>
        Assert.Equal((host, port), DemoOptions.ParseBroker(text));

    [Theory]
    [InlineData("host:0")]
    [InlineData("host:70000")]
    [InlineData("host:abc")]
    [InlineData(":1883")]
    public void Bad_broker_addresses_are_refused_with_the_value(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => DemoOptions.ParseBroker(text));
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Out_of_range_options_name_the_option()
    {
        Assert.Contains("--poison", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Devices = 3, Poison = 3 }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("--devices", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Devices = 1 }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("--fleet", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Fleet = "a/b" }).Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Robust_aggregation_leaves_out_a_sign_flipped_delta_and_averages_the_rest()
    {
        var random = new Random(3);
        var honest = Enumerable.Range(0, 4).Select(_ => Vector(random, 0.1f)).ToArray();
        var attack = new NamedTensor("w", [64], honest[0].Data.Select(v => -3 * v).ToArray());
        var inputs = honest.Select((h, i) => new AggregationInput($"d{i}", [h], 1)).Append(new AggregationInput("evil", [attack], 1)).ToArray();

        var result = RobustAggregation.Aggregate(inputs);

        Assert.Equal([4], result.Filtered);
        Assert.Equal([0, 1, 2, 3], result.Kept);
        for (var k = 0; k < 64; k++)
            Assert.Equal(honest.Average(h => h.Data[k]), result.Update![0].Data[k], 1e-5f);
    }

    [Fact]
    public void Aggregating_identical_deltas_gives_that_delta()
    {
        var d = Vector(new Random(5), 0);
        var result = RobustAggregation.Aggregate([new("a", [d], 2), new("b", [d.Clone()], 1), new("c", [d.Clone()], 5)]);
        Assert.Empty(result.Filtered);
        for (var k = 0; k < 64; k++) Assert.Equal(d.Data[k], result.Update![0].Data[k], 1e-6f);
    }

    [Fact]
    public void Every_device_drifts_and_only_the_last_ones_are_poisoned()
    {
        var shards = DemoScenario.Shards(DemoOptions.Default with { Poison = 2 });
        Assert.Equal(8, shards.Count);
        Assert.All(shards, s => Assert.InRange(s.DriftAt, 1, DemoOptions.Default.SamplesPerDevice / 2));
        Assert.Equal(["dev-07", "dev-08"], shards.Where(s => s.Poisoned).Select(s => s.DeviceId));
        Assert.DoesNotContain(shards, s => s.Poisoned && s.Canary);
        Assert.Equal(shards.Count, shards.Select(s => s.DriftAt).Distinct().Count());
    }

    // A shared direction plus per-device noise: honest devices broadly agree.
    private static NamedTensor Vector(Random random, float noise)
    {
        var data = new float[64];
        for (var k = 0; k < 64; k++) data[k] = MathF.Sin(k) + noise * (float)(random.NextDouble() * 2 - 1);
        return new NamedTensor("w", [64], data);
    }
}
