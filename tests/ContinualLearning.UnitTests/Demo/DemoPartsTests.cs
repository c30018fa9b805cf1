using ContinualLearning.Cli.Demo;
using ContinualLearning.Deltas;
using ContinualLearning.Device.Agent;

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
    public void In_the_groups_world_even_devices_drift_and_odd_devices_stay_in_the_base_concept()
    {
        var shards = DemoScenario.Shards(DemoOptions.Quick with { Scenario = DemoScenarioKind.Groups, Devices = 6 });
        var probe = new ContinualLearning.Streams.SeaGenerator(DemoScenario.BaseConcept, 0, 1);
        for (var i = 0; i < shards.Count; i++)
        {
            var samples = shards[i].Stream.Take(DemoOptions.Quick.SamplesPerDevice).ToArray();
            // Agreement of the last quarter's labels with the base concept: ~90 % (10 % label noise) when the device
            // stayed, ~70 % when it drifted to θ = 7 (a fifth of the inputs change label).
            var tail = samples[(3 * samples.Length / 4)..];
            var agreement = tail.Count(s => probe.TrueLabel(s.Features) == s.Label) / (double)tail.Length;
            if (i % 2 == 0)
            {
                Assert.Equal(DemoScenario.DriftConcept, shards[i].FinalConcept);
                Assert.True(agreement < 0.8, $"{shards[i].DeviceId} should have drifted; {agreement:P1} of its late labels fit the base concept");
            }
            else
            {
                Assert.Equal(DemoScenario.BaseConcept, shards[i].FinalConcept);
                Assert.Equal(DemoScenario.BaseConcept, shards[i].ConceptAt(samples.Length));
                Assert.True(agreement > 0.85, $"{shards[i].DeviceId} should have stayed; only {agreement:P1} of its late labels fit the base concept");
            }
        }
    }

    [Fact]
    public void Out_of_range_options_name_the_option()
    {
        Assert.Contains("--poison", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Devices = 3, Poison = 3 }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("--devices", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Devices = 1 }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("--fleet", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Fleet = "a/b" }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("--clusters", Assert.Throws<ArgumentException>(() => (DemoOptions.Keywords with { Clusters = true }).Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("--scenario groups", Assert.Throws<ArgumentException>(() => (DemoOptions.Quick with { Scenario = DemoScenarioKind.Groups, Devices = 3 }).Validate()).Message, StringComparison.Ordinal);
        (DemoOptions.Quick with { Scenario = DemoScenarioKind.Groups, Devices = 4, Clusters = true }).Validate();
        (DemoOptions.Quick with { Clusters = true }).Validate();
    }

    [Fact]
    public void An_external_broker_needs_a_fleet_CA_or_an_explicit_insecure_flag()
    {
        var external = DemoOptions.Quick with { Broker = ("localhost", 8883) };

        var error = Assert.Throws<ArgumentException>(external.Validate);

        Assert.Contains("--ca", error.Message, StringComparison.Ordinal);
        Assert.Contains("--insecure", error.Message, StringComparison.Ordinal);
        (external with { CaDirectory = "/etc/cl/ca" }).Validate();
        (external with { Insecure = true }).Validate();
        Assert.Throws<ArgumentException>((external with { Insecure = true, CaDirectory = "/etc/cl/ca" }).Validate);
        Assert.False(DemoOptions.Default.Insecure); // the default run is mutual TLS
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

    [Fact]
    public async Task The_attacker_flips_and_amplifies_the_delta_at_the_same_wire_size_and_id()
    {
        var honest = DeltaCodec.Encode(new WeightDelta(
            new DeltaHeader("sea", "1.0.0", "dev-03", Guid.NewGuid(), 10, new Dictionary<string, double>(), DateTimeOffset.UnixEpoch),
            [new TensorDelta("w", [8], DeltaEncoding.Int8, 0.01f, [1, 4, 6], [0.5f, -1.27f, 0.03f])]));
        var inner = new RecordingTransport();

        var wire = await new PoisonedDeltaTransport(inner).PublishAsync(honest, CancellationToken.None);

        Assert.Same(inner.Sent, wire);
        Assert.Equal(honest.Length, wire.Length);
        var (before, after) = (DeltaCodec.Decode(honest), DeltaCodec.Decode(wire));
        Assert.Equal(before.Header.DeltaId, after.Header.DeltaId);
        Assert.Equal(before.Tensors[0].Indices, after.Tensors[0].Indices);
        Assert.Equal(before.Tensors[0].Values.Select(v => -PoisonedDeltaTransport.Factor * v), after.Tensors[0].Values, (a, b) => Math.Abs(a - b) < 1e-5);
    }

    private sealed class RecordingTransport : IDeltaTransport
    {
        public byte[]? Sent { get; private set; }

        public Task<byte[]> PublishAsync(byte[] payload, CancellationToken cancellationToken)
        {
            Sent = payload;
            return Task.FromResult(payload);
        }
    }
}
