using System.Security.Cryptography;
using ContinualLearning.Bundle;
using ContinualLearning.Cli.Demo;
using ContinualLearning.Pipelines;
using ContinualLearning.Training;
using ContinualLearning.UnitTests.Pipelines;

namespace ContinualLearning.UnitTests.Demo;

/// <summary>
/// The keyword world of <c>cl demo --scenario keywords</c>. The whole run (≈ 70 s) is too long for a unit test; .ci/run
/// runs it once. These tests check what the run's claim rests on: the held-out voices are heard by no one, each device
/// hears only its own family, and the base bundle is a real audio bundle.
/// </summary>
public sealed class KeywordDemoTests
{
    [Fact]
    public void Base_device_and_held_out_voice_families_are_disjoint_and_make_up_the_corpus()
    {
        var all = KeywordWorld.BaseFamilies.Concat(KeywordWorld.DeviceFamilies).Concat(KeywordWorld.HeldOutFamilies).ToArray();

        Assert.Equal(all.Length, all.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(all.Order(StringComparer.Ordinal), KeywordWorld.CorpusSpec.Accents.Order(StringComparer.Ordinal));
        Assert.NotEmpty(KeywordWorld.HeldOutFamilies);
        // Ten words × twelve variants, each clean and noisy.
        Assert.Equal(240, KeywordWorld.MaxClipsPerDevice);
    }

    [Fact]
    public void The_keyword_preset_is_valid_and_the_default_presets_stay_SEA()
    {
        DemoOptions.Keywords.Validate();
        Assert.Equal(DemoScenarioKind.Keywords, DemoOptions.Keywords.Scenario);
        Assert.Equal(KeywordWorld.DeviceFamilies.Count, DemoOptions.Keywords.Devices);
        Assert.Equal(DemoScenarioKind.Sea, DemoOptions.Default.Scenario);
        Assert.Equal(DemoScenarioKind.Sea, DemoOptions.Quick.Scenario);
        Assert.Equal("sea", DemoOptions.Quick.ModelName);
    }

    [Fact]
    public void More_devices_than_voice_families_or_clips_than_a_family_has_are_refused_naming_the_option()
    {
        var devices = Assert.Throws<ArgumentException>(() => (DemoOptions.Keywords with { Devices = KeywordWorld.DeviceFamilies.Count + 1 }).Validate());
        Assert.Contains("--devices", devices.Message, StringComparison.Ordinal);
        Assert.Contains(KeywordWorld.DeviceFamilies[0], devices.Message, StringComparison.Ordinal);

        var samples = Assert.Throws<ArgumentException>(() => (DemoOptions.Keywords with { SamplesPerDevice = KeywordWorld.MaxClipsPerDevice + 1 }).Validate());
        Assert.Contains("--samples", samples.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_device_hears_only_its_family_and_the_base_bundle_is_a_signed_audio_bundle_imperfect_on_unseen_voices()
    {
        SpeechTestSupport.RequireModels();
        KeywordCorpusFixture.Espeak.Require(KeywordCorpusFixture.EspeakAvailable);
        var options = DemoOptions.Keywords with { SamplesPerDevice = 20, TrainEvery = 5 };
        using var world = await KeywordWorld.CreateAsync(options, _ => { }, TestContext.Current.CancellationToken);

        Assert.Equal(KeywordWorld.DeviceFamilies, world.Shards.Select(s => s.Voice));
        Assert.Equal("dev-05", Assert.Single(world.Shards, s => s.Canary).DeviceId);
        foreach (var shard in world.Shards)
        {
            var samples = shard.Stream.ToArray();
            Assert.Equal(20, samples.Length);
            Assert.All(samples, s => Assert.Equal(16_000, s.Features.Length));
            Assert.All(samples, s => Assert.InRange(s.Label, 0, 9));
            Assert.True(samples.Select(s => s.Label).Distinct().Count() > 3, $"{shard.DeviceId} hears too few words");
        }

        var root = Directory.CreateTempSubdirectory("cl-kw-world-").FullName;
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var engine = new ManagedEngine();
            world.SaveBase(Path.Combine(root, "base"), engine, m => Convert.ToBase64String(key.SignData(m.CanonicalBytesForSigning(), HashAlgorithmName.SHA256)));
            var bundle = ModelBundle.Load(Path.Combine(root, "base"));

            Assert.Equal(InputKind.Audio, bundle.Manifest.InputSchema.Kind);
            Assert.Equal(world.Head, bundle.Manifest.Head);
            Assert.True(key.VerifyData(bundle.Manifest.CanonicalBytesForSigning(), Convert.FromBase64String(bundle.Manifest.Signature!), HashAlgorithmName.SHA256));
            // The held-out voices are unseen: the base model is far above chance (10 %) there, and far from perfect,
            // which leaves the fleet something to improve.
            Assert.Equal(KeywordWorld.HeldOutFamilies.Count * KeywordWorld.MaxClipsPerDevice, world.HeldOutSamples);
            Assert.InRange(world.Accuracy(engine, bundle.HeadWeights), 0.3, 0.85);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
