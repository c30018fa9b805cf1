using ContinualLearning.Aggregator;
using ContinualLearning.Aggregator.Aggregation;
using ContinualLearning.Aggregator.Privacy;
using ContinualLearning.Aggregator.Registry;
using ContinualLearning.Aggregator.Strategies;
using ContinualLearning.Fleet.Configuration;
using ContinualLearning.Privacy;
using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Privacy;

/// <summary>Central DP in the round: clip then noise of σ·C·w_max/Σw, the privacy record of versions, and its configuration.</summary>
public sealed class CentralPrivacyTests : IDisposable
{
    private static readonly NamedTensor[] Global = AggregatorTestKit.Weights(AggregatorTestKit.SmallHead, 1);
    private readonly string _dir = Directory.CreateTempSubdirectory("cl-central-dp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static BufferedDelta Buffered(string device, float value, long samples = 10)
    {
        var dense = AggregatorTestKit.SmallHead.Parameters()
            .Select(p => new NamedTensor(p.Name, p.Shape, Enumerable.Repeat(value, p.Shape.Aggregate(1, (a, b) => a * b)).ToArray()))
            .ToArray();
        var id = Guid.NewGuid();
        return new BufferedDelta(new PendingDelta(id.ToString("D"), device, "1.0.0", samples, DateTimeOffset.UnixEpoch, AggregatorTestKit.Encode(device, id, "1.0.0", samples, dense)), 0, false);
    }

    private static float[] Flat(IReadOnlyList<NamedTensor> weights) => weights.SelectMany(t => t.Data).ToArray();

    [Fact]
    public void The_round_clips_each_device_then_adds_noise_scaled_to_the_clip_over_the_devices()
    {
        var aggregation = new AggregationOptions { Strategy = StrategyKind.FedAvg, MinDevices = 1, StalenessAlpha = 0, Privacy = new CentralPrivacyOptions { NoiseMultiplier = 2.0 } };
        var validation = new ValidationOptions { MaxNorm = 0.5, NormClipMode = NormClipMode.Clip, MaxNewClasses = 0 };
        // One device far beyond the clip: after clipping it moves the mean by at most C/n.
        var deltas = Enumerable.Range(0, 10).Select(i => Buffered($"d{i}", i == 0 ? 1000f : 0f)).ToArray();

        var clean = AggregationRound.Run(Global, AggregatorTestKit.SmallHead, deltas, aggregation with { Privacy = new CentralPrivacyOptions() }, validation);
        var noisy = AggregationRound.Run(Global, new OutputLayout(AggregatorTestKit.SmallHead, null), deltas, aggregation, validation, noise: GaussianNoise.Seeded(1));

        Assert.Null(clean.Privacy);
        Assert.Equal(0.5 / 10, clean.Metrics!.UpdateNorm, 6);
        Assert.Equal(new RoundPrivacy(2.0, 0.5, 10, 2.0 * 0.5 / 10), noisy.Privacy);
        Assert.NotEqual(Flat(clean.Weights!), Flat(noisy.Weights!));
    }

    [Fact]
    public void The_noise_standard_deviation_is_sigma_times_the_largest_share_of_the_clip()
    {
        var aggregate = new float[100_000];
        var privacy = CentralNoise.Apply(aggregate, [1, 1, 2], 3.0, new CentralPrivacyOptions { NoiseMultiplier = 1.5 }, GaussianNoise.Secure());
        var expected = 1.5 * 3.0 * 2 / 4;
        Assert.Equal(expected, privacy.NoiseStd, 12);
        var std = Math.Sqrt(aggregate.Sum(v => (double)v * v) / aggregate.Length);
        // Standard error of the sample std: 0.22 %; a noise 3 % off fails.
        Assert.InRange(std, expected * 0.98, expected * 1.02);
    }

    [Fact]
    public void Each_version_records_its_round_and_the_models_composed_epsilon()
    {
        var first = PrivacyRecord.Add("""{"deltas":3}""", new RoundPrivacy(1.0, 2.0, 20, 0.1), null, 1e-5);
        var second = PrivacyRecord.Add("""{"deltas":4}""", new RoundPrivacy(2.0, 2.0, 25, 0.16), first, 1e-5);
        var third = PrivacyRecord.Add("""{"deltas":5}""", null, second, 1e-5);

        var m1 = Metrics(first);
        var m2 = Metrics(second);
        Assert.Equal(3, m1["deltas"]);
        Assert.Equal(RdpAccountant.Epsilon(1.0, 1.0, 1, 1e-5), m1[PrivacyRecord.RoundEpsilon], 12);
        Assert.Equal(m1[PrivacyRecord.RoundEpsilon], m1[PrivacyRecord.ModelEpsilon], 12);
        // Σ1/σ² = 1 + 1/4: one Gaussian of σ = 1/√1.25.
        Assert.Equal(RdpAccountant.Epsilon(1.0, 1 / Math.Sqrt(1.25), 1, 1e-5), m2[PrivacyRecord.ModelEpsilon], 12);
        Assert.True(m2[PrivacyRecord.ModelEpsilon] > m1[PrivacyRecord.ModelEpsilon]);
        Assert.Equal(1, Metrics(third)[PrivacyRecord.RoundsWithoutNoise]);
        Assert.Equal("""{"deltas":7}""", PrivacyRecord.Add("""{"deltas":7}""", null, """{"deltas":1}""", 1e-5));

        Assert.Matches(@"^σ 2, clip 2, 25 devices, noise std 0\.16, ε this round [0-9.]+; ε model [0-9.]+ at δ 1E-5$", PrivacyRecord.Describe(second));
        Assert.Contains("does not bound the release: 1 round(s) without noise", PrivacyRecord.Describe(third), StringComparison.Ordinal);
        Assert.Null(PrivacyRecord.Describe("""{"deltas":1}"""));
    }

    [Fact]
    public void A_version_built_on_another_models_version_continues_its_lineage()
    {
        var parent = PrivacyRecord.Add("{}", new RoundPrivacy(1.0, 2.0, 20, 0.1), PrivacyRecord.Add("{}", new RoundPrivacy(2.0, 2.0, 20, 0.1), null, 1e-5), 1e-5);
        var p = Metrics(parent);

        // From the parent alone (its weights unchanged): the same lineage, no round of its own.
        var alone = Metrics(PrivacyRecord.Continue("{}", parent, 1e-5, addsUpdateWithoutNoise: false));
        Assert.Equal(p[PrivacyRecord.InverseVarianceSum], alone[PrivacyRecord.InverseVarianceSum], 12);
        Assert.Equal(p[PrivacyRecord.ModelEpsilon], alone[PrivacyRecord.ModelEpsilon], 12);
        Assert.False(alone.ContainsKey(PrivacyRecord.RoundsWithoutNoise));
        Assert.False(alone.ContainsKey(PrivacyRecord.NoiseMultiplier));

        // Plus one device's update without noise: the lineage's ε, and the record says it no longer bounds the release.
        var withDelta = PrivacyRecord.Continue("{}", parent, 1e-5, addsUpdateWithoutNoise: true);
        Assert.Equal(p[PrivacyRecord.ModelEpsilon], Metrics(withDelta)[PrivacyRecord.ModelEpsilon], 12);
        Assert.Equal(1, Metrics(withDelta)[PrivacyRecord.RoundsWithoutNoise]);
        Assert.StartsWith("no noise this round; ε model", PrivacyRecord.Describe(withDelta), StringComparison.Ordinal);
        Assert.Contains("does not bound the release: 1 round(s) without noise", PrivacyRecord.Describe(withDelta), StringComparison.Ordinal);

        // A parent without noise in its lineage: nothing to continue.
        Assert.Equal("{}", PrivacyRecord.Continue("{}", """{"deltas":1}""", 1e-5, addsUpdateWithoutNoise: true));
    }

    [Theory]
    [InlineData("strategy", "aggregation:strategy")]
    [InlineData("clip", "validation:maxNorm")]
    [InlineData("classes", "validation:maxNewClasses")]
    [InlineData("delta", "aggregation:privacy:delta")]
    [InlineData("sigma", "aggregation:privacy:noiseMultiplier")]
    public void Noise_needs_a_mean_a_clip_and_no_class_growth(string rule, string key)
    {
        var key_ = Path.Combine(_dir, "release.key");
        File.WriteAllText(key_, "not read by the validator");
        var privacy = new CentralPrivacyOptions { NoiseMultiplier = 1.0 };
        var valid = new AggregatorOptions
        {
            Fleet = "plant1", ModelName = "sea", RegistryPath = _dir, PrivateKeyPath = key_,
            Aggregation = new AggregationOptions { Strategy = StrategyKind.FedAvg, Privacy = privacy },
            Validation = new ValidationOptions { MaxNorm = 1.0, MaxNewClasses = 0 },
        };
        valid.Validate();
        var broken = rule switch
        {
            "strategy" => valid with { Aggregation = valid.Aggregation with { Strategy = StrategyKind.TrimmedMean } },
            "clip" => valid with { Validation = valid.Validation with { MaxNorm = null } },
            "classes" => valid with { Validation = valid.Validation with { MaxNewClasses = 8 } },
            "delta" => valid with { Aggregation = valid.Aggregation with { Privacy = privacy with { Delta = 1.5 } } },
            _ => valid with { Aggregation = valid.Aggregation with { Privacy = privacy with { NoiseMultiplier = double.NaN } } },
        };

        var error = Assert.Single(Assert.Throws<ConfigurationException>(broken.Validate).Errors);

        Assert.Equal(key, error.Key);
        Assert.False(string.IsNullOrWhiteSpace(error.Fix));
    }

    private static Dictionary<string, double> Metrics(string json) =>
        System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, double>>(json)!;
}
