using ContinualLearning.Streams;

namespace ContinualLearning.UnitTests.Streams;

public sealed class StreamTests
{
    [Theory]
    [InlineData(1, 8.0)]
    [InlineData(2, 9.0)]
    [InlineData(3, 7.0)]
    [InlineData(4, 9.5)]
    public void Sea_labels_follow_the_threshold_and_noise_rate(int concept, double theta)
    {
        var sea = new SeaGenerator(concept, noise: 0.1, seed: 3);
        var samples = sea.Limit(20_000).ToList();
        Assert.Equal(20_000, samples.Count);
        Assert.All(samples, s => Assert.All(s.Features, f => Assert.InRange(f, 0f, 10f)));
        var flipped = samples.Count(s => (s.Features[0] + s.Features[1] <= theta ? 0 : 1) != s.Label);
        Assert.InRange(flipped / 20_000.0, 0.09, 0.11);
    }

    [Fact]
    public void Generators_replay_the_same_samples_for_the_same_seed()
    {
        var a = new SeaGenerator(seed: 5).Limit(100).ToList();
        var b = new SeaGenerator(seed: 5).Limit(100).ToList();
        var c = new SeaGenerator(seed: 6).Limit(100).ToList();
        Assert.Equal(a.Select(s => s.Features[0]), b.Select(s => s.Features[0]));
        Assert.NotEqual(a.Select(s => s.Features[0]), c.Select(s => s.Features[0]));
        var h = new RotatingHyperplane(seed: 2);
        Assert.Equal(h.Limit(50).Select(s => s.Label), h.Limit(50).Select(s => s.Label));
    }

    [Fact]
    public void Abrupt_sea_drift_switches_concept_exactly_at_the_positions()
    {
        var stream = ConceptDriftStream.Sea([1, 3], [1000], noise: 0);
        var samples = stream.Limit(2000).ToList();
        // Noise-free: every label must match the concept of its position (θ = 8 before, 7 after).
        for (var t = 0; t < samples.Count; t++)
        {
            var theta = t < 1000 ? 8.0 : 7.0;
            var s = samples[t];
            Assert.Equal(s.Features[0] + s.Features[1] <= theta ? 0 : 1, s.Label);
        }
    }

    [Fact]
    public void Gradual_drift_mixes_concepts_along_a_sigmoid()
    {
        // Concept A has x0 in [0,1], concept B has x0 shifted to [10,11], so the source of each sample is visible.
        var a = new RotatingHyperplane(dimensions: 2, noise: 0, seed: 1);
        var b = new DelegateStream(a.Schema, () => new RotatingHyperplane(dimensions: 2, noise: 0, seed: 2).Select(s => s with { Features = [s.Features[0] + 10, s.Features[1]] }));
        var stream = ConceptDriftStream.Gradual(a, b, position: 5000, width: 1000, seed: 4);
        var fromB = stream.Limit(10_000).Select(s => s.Features[0] >= 10).ToArray();
        double Share(int from, int to) => fromB[from..to].Count(x => x) / (double)(to - from);
        Assert.InRange(Share(0, 4000), 0, 0.03);        // σ(−4) = 0.018 at 4000
        Assert.InRange(Share(4900, 5100), 0.35, 0.65);  // ≈ 0.5 at the centre
        Assert.InRange(Share(6000, 10_000), 0.97, 1);
        Assert.Equal(0.5, stream.SwitchProbability(0, 5000), 12);
        Assert.Equal(1 / (1 + Math.Exp(-4.0)), stream.SwitchProbability(0, 6000), 12);
    }

    [Fact]
    public void Rotating_hyperplane_drifts_when_the_magnitude_is_positive()
    {
        // Fit nothing: compare the label of the same point early and late. With magnitude 0 the
        // concept is fixed, so a noise-free stream labels x consistently with the initial weights.
        static double Agreement(double magnitude)
        {
            var samples = new RotatingHyperplane(dimensions: 5, driftingDimensions: 5, magnitudeOfChange: magnitude, noise: 0, seed: 9).Limit(20_000).ToList();
            // Label the last 1000 points by their nearest neighbour among the first 1000 (the initial concept).
            var early = samples.Take(1000).ToArray();
            var agree = 0;
            foreach (var late in samples.Skip(19_000))
            {
                var best = double.MaxValue;
                var label = -1;
                foreach (var e in early)
                {
                    var d = 0.0;
                    for (var f = 0; f < 5; f++)
                    {
                        d += (e.Features[f] - late.Features[f]) * (e.Features[f] - late.Features[f]);
                    }
                    if (d < best)
                    {
                        best = d;
                        label = e.Label;
                    }
                }
                agree += label == late.Label ? 1 : 0;
            }
            return agree / 1000.0;
        }
        var stationary = Agreement(0);
        var drifting = Agreement(0.01);
        Assert.True(stationary > 0.8, $"stationary agreement {stationary}");
        Assert.True(drifting < stationary - 0.1, $"drifting {drifting} vs stationary {stationary}");
    }

    [Fact]
    public void Concept_drift_stream_rejects_mismatched_concepts()
    {
        var ex = Assert.Throws<ArgumentException>(() => ConceptDriftStream.Abrupt(new SeaGenerator(), new RotatingHyperplane(dimensions: 4), 10));
        Assert.Contains("3 features", ex.Message);
        Assert.Throws<ArgumentException>(() => new ConceptDriftStream([new SeaGenerator(), new SeaGenerator(2), new SeaGenerator(3)], [100, 50]));
    }
}
