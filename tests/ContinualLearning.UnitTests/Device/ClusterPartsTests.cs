using ContinualLearning.Bundle;
using ContinualLearning.Device.Agent;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Signing;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Device;

/// <summary>The parts of the device's clustering without a broker: release sequences per model, and the cluster-head fetcher's refusals.</summary>
public sealed class ClusterPartsTests : IAsyncDisposable
{
    private const string C1 = DeviceTestKit.Model + ".c1";
    private readonly AgentParts _parts = new(o => o with { Clustering = true });

    private DeviceTestKit Kit => _parts.Kit;

    public ValueTask DisposeAsync() => _parts.DisposeAsync();

    [Fact]
    public void Release_sequences_are_kept_per_model_and_read_back_after_a_restart()
    {
        var path = Path.Combine(Kit.Root, "seq.json");
        File.WriteAllText(path, "sea 7\n"); // the one-model file of a device before clustering
        var sequences = new ReleaseSequence(path, "sea");
        Assert.Equal(7, sequences.Last);

        sequences.Accept("sea.c1", 3);
        sequences.Accept("sea.c1", 2); // never backwards
        sequences.Accept(9);

        var restarted = new ReleaseSequence(path, "sea");
        Assert.Equal((9L, 3L, 0L), (restarted.Last, restarted.LastOf("sea.c1"), restarted.LastOf("sea.c2")));
        File.WriteAllText(path, "sea\n");
        Assert.Throws<InvalidDataException>(() => new ReleaseSequence(path, "sea"));
    }

    [Fact]
    public async Task Attack_a_release_of_a_model_that_is_not_a_live_cluster_is_refused()
    {
        using var fetcher = Fetcher();
        await fetcher.SetModelsAsync(new Dictionary<string, int> { [C1] = 1 }, CancellationToken.None);

        var (release, _) = ClusterRelease(DeviceTestKit.Model + ".c7", "1.0.0", sequence: 1);
        await fetcher.OnReleaseAsync(Message(release), CancellationToken.None);

        Assert.Equal(1, _parts.Runtime.Metrics.ReleasesRejected);
        Assert.Empty(_parts.Connection.Subscriptions);
        Assert.Empty(fetcher.Heads);
    }

    [Fact]
    public async Task A_live_clusters_head_is_fetched_verified_and_held_and_a_replayed_older_release_is_refused()
    {
        using var fetcher = Fetcher();
        await fetcher.SetModelsAsync(new Dictionary<string, int> { [C1] = 1 }, CancellationToken.None);
        await FetchAsync(fetcher, "1.0.0", sequence: 1);
        await FetchAsync(fetcher, "1.1.0", sequence: 2);
        Assert.Equal("1.1.0", fetcher.Heads[1].Manifest.Version);

        var (old, _) = ClusterRelease(C1, "1.0.0", sequence: 1);
        await fetcher.OnReleaseAsync(Message(old), CancellationToken.None);
        Assert.Equal(1, _parts.Runtime.Metrics.ReleasesRejected);
        Assert.Equal("1.1.0", fetcher.Heads[1].Manifest.Version);

        // A forged release (signed with another key) is refused before any chunk is fetched.
        using var attacker = ReleaseKeys.Generate();
        var (forged, _) = ClusterRelease(C1, "9.0.0", sequence: 3);
        var subscriptions = _parts.Connection.Subscriptions.Count;
        await fetcher.OnReleaseAsync(Message(ReleaseSigner.Sign(forged with { Signature = null, KeyId = null }, attacker)), CancellationToken.None);
        Assert.Equal(2, _parts.Runtime.Metrics.ReleasesRejected);
        Assert.Equal(subscriptions, _parts.Connection.Subscriptions.Count);

        // Retired: the head is dropped.
        await fetcher.SetModelsAsync(new Dictionary<string, int>(), CancellationToken.None);
        Assert.Empty(fetcher.Heads);
    }

    [Fact]
    public async Task The_runtime_installs_only_its_model_or_one_of_its_cluster_models_under_that_name()
    {
        var other = Bundle("other", "1.0.0");
        var c1 = Bundle(C1, "1.0.0");

        var foreign = await Assert.ThrowsAsync<InvalidDataException>(() => _parts.Runtime.InstallAsync(other, "other"));
        Assert.Contains("nor one of its cluster models", foreign.Message, StringComparison.Ordinal);
        // A bundle whose manifest names another model than its release is not installed either.
        var mislabelled = await Assert.ThrowsAsync<InvalidDataException>(() => _parts.Runtime.InstallAsync(c1, DeviceTestKit.Model + ".c2"));
        Assert.Contains("its release is of cluster model 'sea.c2'", mislabelled.Message, StringComparison.Ordinal);
        Assert.False(_parts.Runtime.HasModel);

        await _parts.Runtime.InstallAsync(c1, C1);
        Assert.Equal(C1, _parts.Runtime.Learner!.Status.ModelName);
    }

    private string Bundle(string model, string version)
    {
        var dir = Path.Combine(Kit.Root, "cluster-bundles", model, version);
        var manifest = DeviceTestKit.Manifest(version) with { Name = model };
        ModelBundle.Save(dir, manifest, ContinualLearning.Training.HeadInitializer.Initialize(manifest.Head, 1), overwrite: true);
        return dir;
    }

    private ClusterHeadFetcher Fetcher() =>
        new(_parts.Runtime, Kit.Key, _parts.Settings, _parts.Connection, _parts.Releases.Sequences, NullLogger.Instance);

    private async Task FetchAsync(ClusterHeadFetcher fetcher, string version, long sequence)
    {
        var (release, chunks) = ClusterRelease(C1, version, sequence);
        await fetcher.OnReleaseAsync(Message(release), CancellationToken.None);
        foreach (var chunk in chunks)
            await fetcher.OnChunkAsync(new FleetMessage(FleetTopics.Chunk(Kit.Fleet, C1, version, chunk.Index), chunk.Encode(), true), CancellationToken.None);
    }

    private FleetMessage Message(Release release) => new(FleetTopics.Release(Kit.Fleet, release.ModelName), FleetJson.Serialize(release), true);

    private (Release Release, IReadOnlyList<BundleChunk> Chunks) ClusterRelease(string model, string version, long sequence)
    {
        var container = BundlePackager.Pack(Bundle(model, version));
        var release = ReleaseSigner.Sign(BundlePackager.CreateRelease(container, model, version, "all", 1024) with { Sequence = sequence }, Kit.Key);
        return (release, BundlePackager.Split(container, model, version, 1024));
    }
}
