using ContinualLearning.Bundle;
using ContinualLearning.Deltas;
using ContinualLearning.Device.Configuration;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Learning;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Device;

/// <summary>
/// The device side of FedProx and personalisation: its settings, and a personalised device in process (installer,
/// learner, delta publisher) that sends only its shared layer and keeps its output layer through a release and a restart.
/// </summary>
public sealed class PersonalisationDeviceTests
{
    [Fact]
    public async Task A_personalised_device_sends_only_the_shared_layer_and_keeps_its_output_layer_through_a_release_and_a_restart()
    {
        using var kit = new DeviceTestKit(brokerPort: 1);
        kit.Options = kit.Options with { PersonalLayers = 1, Delta = new DeltaOptions { TopKFraction = 1, Encoding = DeltaEncoding.Float32 } };
        ModelBundle champion, installed;
        await using (var parts = new AgentParts(kit))
        {
            await parts.InstallReleaseAsync("1.0.0");
            parts.Runtime.Promoted += parts.Deltas.Offer;
            var learner = parts.Runtime.Learner!;
            var random = new Random(3);
            // This device's users label SEA the other way round: its own output layer is what serves them.
            for (var i = 0; i < 200; i++)
            {
                var (features, label) = DeviceTestKit.Sea(random);
                learner.AddLabelled(features, label == "UP" ? "DOWN" : "UP");
            }
            Assert.True((await learner.TrainNowAsync("test"))!.Promoted);
            champion = learner.Checkpoints.LoadChampion();
            parts.Deltas.CompleteIntake();
            await parts.Deltas.BuildDeltasAsync();
            var delta = DeltaCodec.Decode(parts.Deltas.Outbox.Peek()!.Payload);
            Assert.Equal(["0.weight", "0.bias"], delta.Tensors.Select(t => t.Name));
            // champion − release 1.0.0 (HeadInitializer seed 1), exactly as float32 sends it.
            var expected = champion.HeadWeights[0].Data.Zip(HeadInitializer.Initialize(champion.Head, 1)[0].Data, (c, b) => c - b).ToArray();
            Assert.Equal(expected, delta.ToDense()[0].Data);

            await parts.InstallReleaseAsync("1.1.0");
            installed = parts.Runtime.Learner!.Checkpoints.LoadChampion();
            Assert.Equal("1.1.0-local.1", installed.Manifest.Version);
            Assert.Equal(installed.Manifest.Version, parts.Runtime.Learner.Predict([1f, 2f, 3f]).ModelVersion);
        }
        var release = ModelBundle.Load(kit.Bundle("1.1.0"));
        Assert.Equal(release.HeadWeights[0].Data, installed.HeadWeights[0].Data);
        Assert.Equal(release.HeadWeights[1].Data, installed.HeadWeights[1].Data);
        Assert.Equal(champion.HeadWeights[2].Data, installed.HeadWeights[2].Data);
        Assert.Equal(champion.HeadWeights[3].Data, installed.HeadWeights[3].Data);

        await using var restarted = new AgentParts(kit);
        await restarted.Runtime.OpenAsync();
        Assert.Equal(installed.Manifest.Version, restarted.Runtime.Learner!.ModelVersion);
        Assert.Equal(installed.HeadWeights.Select(t => t.Data), restarted.Runtime.Learner.Checkpoints.LoadChampion().HeadWeights.Select(t => t.Data));
    }

    [Fact]
    public void Settings_are_read_and_validated_with_key_value_and_fix()
    {
        var dir = Directory.CreateTempSubdirectory("cl-personal-options-").FullName;
        try
        {
            var key = Path.Combine(dir, "fleet.pub");
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
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
