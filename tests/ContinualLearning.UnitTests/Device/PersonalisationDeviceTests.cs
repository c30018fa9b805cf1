using ContinualLearning.Deltas;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Learning;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The device side of FedProx and personalisation: its settings, and deltas that leave the personal tensors out.</summary>
public sealed class PersonalisationDeviceTests : IDisposable
{
    private readonly DeviceTestKit _kit = new(brokerPort: 1);

    public PersonalisationDeviceTests()
    {
        _kit.Options = _kit.Options with { Delta = new DeltaOptions { TopKFraction = 1, Encoding = DeltaEncoding.Float32 } };
    }

    public void Dispose() => _kit.Dispose();

    [Fact]
    public async Task The_delta_of_a_personalised_promotion_holds_only_the_shared_tensors()
    {
        await using var parts = new AgentParts(_kit);
        var deltas = parts.Deltas;
        NamedTensor[] Head(float shared, float personal) => [new("0.weight", [2], [shared, shared]), new("2.weight", [2], [personal, personal])];
        deltas.Offer(Promotion(Head(0, 0), Head(1, 5), personal: ["2.weight"]));
        deltas.Offer(Promotion(Head(0, 0), Head(2, 9), personal: ["2.weight"]));
        deltas.CompleteIntake();
        await deltas.BuildDeltasAsync();

        var sent = new List<WeightDelta>();
        while (deltas.Outbox.Peek() is { } item)
        {
            sent.Add(DeltaCodec.Decode(item.Payload));
            deltas.Outbox.Remove(item.Sequence);
        }
        Assert.Equal(2, sent.Count);
        Assert.All(sent, d => Assert.Equal(["0.weight"], d.Tensors.Select(t => t.Name)));
        Assert.Equal(new float[][] { [1, 1], [1, 1] }, sent.Select(d => d.ToDense()[0].Data));
    }

    [Fact]
    public void Settings_are_read_and_validated_with_key_value_and_fix()
    {
        var key = Path.Combine(_kit.Root, "fleet.pub");
        File.WriteAllText(key, "placeholder");
        var basic = new Dictionary<string, string?> { ["deviceId"] = "pi-07", ["fleet"] = "plant1", ["modelName"] = "kws", ["fleetPublicKey"] = key };

        var defaults = DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, basic, readEnvironment: false)).ToLearnerOptions();
        Assert.Equal((0f, 0), (defaults.ProximalMu, defaults.PersonalLayers));

        var set = DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, new Dictionary<string, string?>(basic)
        {
            ["learning:proximalMu"] = "0.01", ["learning:personalLayers"] = "1",
        }, readEnvironment: false)).ToLearnerOptions();
        Assert.Equal((0.01f, 1), (set.ProximalMu, set.PersonalLayers));

        var ex = Assert.Throws<ConfigurationException>(() => DeviceOptionsReader.Read(DeviceOptionsReader.Build(null, new Dictionary<string, string?>(basic)
        {
            ["learning:proximalMu"] = "-0.5", ["learning:personalLayers"] = "9",
        }, readEnvironment: false)));
        var byKey = ex.Errors.ToDictionary(e => e.Key);
        Assert.Equal("-0.5", byKey["learning:proximalMu"].Value);
        Assert.Contains("0.01", byKey["learning:proximalMu"].Fix, StringComparison.Ordinal);
        Assert.Equal("9", byKey["learning:personalLayers"].Value);
        Assert.Contains("output layer", byKey["learning:personalLayers"].Fix, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => new LearnerOptions { ModelStoreDirectory = "m", ProximalMu = float.PositiveInfinity }.Validate());
        Assert.Throws<ArgumentException>(() => new LearnerOptions { ModelStoreDirectory = "m", PersonalLayers = -1 }.Validate());
    }

    private static PromotedEventArgs Promotion(NamedTensor[] baseWeights, NamedTensor[] champion, string[] personal) => new()
    {
        NewVersion = "1.0.0-local.1",
        BaseVersion = "1.0.0",
        BaseWeights = baseWeights,
        ChampionWeights = champion,
        PersonalTensors = new HashSet<string>(personal, StringComparer.Ordinal),
        SamplesUsed = 20,
        Decision = new PromotionDecision
        {
            Time = DateTimeOffset.UnixEpoch,
            TriggerReason = "test",
            Mode = "stateful",
            Metric = DecisionMetric.Accuracy,
            ChampionMetric = 0.5,
            ChallengerMetric = 0.75,
            Margin = 0,
            TrainSamples = 16,
            HoldoutSamples = 4,
            ReplayedRows = 0,
            Steps = 1,
            SampleGradients = 16,
            WallTime = TimeSpan.Zero,
            Promoted = true,
            ChampionVersion = "1.0.0",
            NewVersion = "1.0.0-local.1",
        },
    };
}
