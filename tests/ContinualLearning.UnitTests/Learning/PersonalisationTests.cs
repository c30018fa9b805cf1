using ContinualLearning.Bundle;
using ContinualLearning.Learning;
using ContinualLearning.Training;

namespace ContinualLearning.UnitTests.Learning;

/// <summary>
/// The learner with a personal output layer (FedPer) and with FedProx: what a promotion reports for the delta, what a
/// fleet release installs, and that the personal layer survives a restart.
/// </summary>
public sealed class PersonalisationTests(ITestOutputHelper output) : IDisposable
{
    private readonly ClusterFixture _f = new();

    public void Dispose() => _f.Dispose();

    private LearnerOptions Options(int personalLayers = 1, float mu = 0, string store = "models") =>
        _f.Options(store: store) with { PersonalLayers = personalLayers, ProximalMu = mu };

    private static async Task<PromotedEventArgs> TrainAsync(ContinualLearner learner, int seed = 5)
    {
        PromotedEventArgs? promoted = null;
        void Handler(object? sender, PromotedEventArgs e) => promoted = e;
        learner.Promoted += Handler;
        var random = new Random(seed);
        // Device-specific data: "a" and "b" swapped, so the device's own output layer differs from the fleet's.
        for (var i = 0; i < 200; i++) learner.AddLabelled(ClusterFixture.Sample(random, i % 2), ClusterFixture.Names[1 - i % 2]);
        Assert.NotNull(await learner.TrainNowAsync("manual"));
        learner.Promoted -= Handler;
        return promoted ?? throw new InvalidOperationException("the run did not promote");
    }

    private string SaveRelease(string version, IReadOnlyList<string> labels, HeadSpec head, int seed)
    {
        var path = Path.Combine(_f.Root, "release-" + version);
        ModelBundle.Save(path, ClusterFixture.Manifest(version, labels, head), HeadInitializer.Initialize(head, seed));
        return path;
    }

    [Fact]
    public async Task A_promotion_names_the_personal_tensors_and_its_shared_weights_leave_them_out()
    {
        await using var learner = await _f.OpenAsync(Options());
        var e = await TrainAsync(learner);
        Assert.Equal(["2.bias", "2.weight"], e.PersonalTensors.Order(StringComparer.Ordinal));
        var (baseShared, championShared) = e.SharedWeights();
        Assert.Equal(["0.weight", "0.bias"], baseShared.Select(t => t.Name));
        Assert.Equal(["0.weight", "0.bias"], championShared.Select(t => t.Name));
        Assert.Equal(4, e.ChampionWeights.Count);
    }

    [Fact]
    public async Task A_release_replaces_the_shared_layer_keeps_the_personal_one_across_a_restart_and_a_rollback_restores_the_old_champion()
    {
        ModelBundle champion, installed;
        var grown = new HeadSpec([4, 16, 3], LossKind.SoftmaxCrossEntropy);
        var releasePath = SaveRelease("1.1.0", ["a", "b", "d"], grown, seed: 40);
        var release = ModelBundle.Load(releasePath);
        await using (var learner = await _f.OpenAsync(Options()))
        {
            await TrainAsync(learner);
            champion = learner.Checkpoints.LoadChampion();
            var swapped = ClusterFixture.Accuracy(learner, 0);
            await learner.RebaseAsync(release);

            installed = learner.Checkpoints.LoadChampion();
            Assert.Equal("1.1.0-local.1", installed.Manifest.Version);
            Assert.Equal(installed.Manifest.Version, learner.ModelVersion);
            Assert.Equal("1.1.0", learner.Status.BaseVersion);
            Assert.Equal(["a", "b", "d"], installed.Manifest.Task.LabelNames);
            // Shared hidden layer: the release's. Output rows a, b: the device's; row d (new in the fleet): the release's.
            Assert.Equal(release.HeadWeights[0].Data, installed.HeadWeights[0].Data);
            Assert.Equal(release.HeadWeights[1].Data, installed.HeadWeights[1].Data);
            Assert.Equal(champion.HeadWeights[2].Data, installed.HeadWeights[2].Data.AsSpan(0, 32).ToArray());
            Assert.Equal(release.HeadWeights[2].Data.AsSpan(32, 16).ToArray(), installed.HeadWeights[2].Data.AsSpan(32, 16).ToArray());
            Assert.Equal([champion.HeadWeights[3].Data[0], champion.HeadWeights[3].Data[1], release.HeadWeights[3].Data[2]], installed.HeadWeights[3].Data);
            output.WriteLine($"accuracy on the device's swapped class a: {swapped:0.000} before the release, {ClusterFixture.Accuracy(learner, 0):0.000} after");
        }

        await using (var reopened = await _f.OpenAsync(Options()))
        {
            var restored = reopened.Checkpoints.LoadChampion();
            Assert.Equal(installed.Manifest.Version, reopened.ModelVersion);
            Assert.Equal(installed.HeadWeights.Select(t => t.Data), restored.HeadWeights.Select(t => t.Data));

            // A rollback returns to the whole previous champion (its shared and personal layers together).
            Assert.True(reopened.Rollback());
            Assert.Equal(champion.HeadWeights.Select(t => t.Data), reopened.Checkpoints.LoadChampion().HeadWeights.Select(t => t.Data));
        }
    }

    [Fact]
    public async Task Without_personal_layers_a_release_replaces_the_whole_head()
    {
        await using var learner = await _f.OpenAsync(Options(personalLayers: 0));
        var e = await TrainAsync(learner);
        Assert.Empty(e.PersonalTensors);
        Assert.Same(e.ChampionWeights, e.SharedWeights().Champion);
        var release = ModelBundle.Load(SaveRelease("1.1.0", ["a", "b"], ClusterFixture.Spec, seed: 40));
        await learner.RebaseAsync(release);
        Assert.Equal("1.1.0", learner.ModelVersion);
        Assert.Equal(release.HeadWeights.Select(t => t.Data), learner.Checkpoints.LoadChampion().HeadWeights.Select(t => t.Data));
    }

    [Fact]
    public async Task A_head_without_a_layer_to_share_is_refused_at_open()
    {
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _f.OpenAsync(Options(personalLayers: 2)));
        Assert.Contains("at least one layer must stay shared", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FedProx_keeps_the_run_nearer_the_installed_release()
    {
        double Distance(ModelBundle a, ModelBundle b) => Math.Sqrt(a.HeadWeights.Zip(b.HeadWeights)
            .Sum(p => p.First.Data.Zip(p.Second.Data).Sum(v => (double)(v.First - v.Second) * (v.First - v.Second))));
        var release = ModelBundle.Load(_f.BasePath);
        var distances = new List<double>();
        foreach (var (mu, store) in new[] { (0f, "plain"), (1f, "prox") })
        {
            await using var learner = await _f.OpenAsync(Options(personalLayers: 0, mu: mu, store: store));
            await TrainAsync(learner);
            distances.Add(Distance(learner.Checkpoints.LoadChampion(), release));
        }
        output.WriteLine($"distance from the release: μ=0 {distances[0]:0.000}, μ=1 {distances[1]:0.000}");
        Assert.True(distances[1] < 0.7 * distances[0], $"μ=1 moved {distances[1]:0.000}, μ=0 {distances[0]:0.000}");
    }
}
