using ContinualLearning.Device.Agent;
using ContinualLearning.Fleet.Client;
using ContinualLearning.Fleet.Messages;
using ContinualLearning.Fleet.Topics;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Signed releases without a broker: verify before fetching, chunks through the assembler, refusals with the reason.</summary>
public sealed class ReleaseInstallerTests : IAsyncDisposable
{
    private readonly List<string> _rejections = [];
    private readonly AgentParts _parts = new();

    public ReleaseInstallerTests() => _parts.Releases.Rejected += _rejections.Add;

    private DeviceTestKit Kit => _parts.Kit;

    public ValueTask DisposeAsync() => _parts.DisposeAsync();

    [Fact]
    public async Task A_signed_release_is_fetched_chunk_by_chunk_and_installed()
    {
        var (release, chunks) = Kit.Release("1.0.0");
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(release), CancellationToken.None);
        var filter = FleetTopics.AllChunks(Kit.Fleet, DeviceTestKit.Model, "1.0.0");
        Assert.Equal(new[] { "subscribe " + filter }, _parts.Connection.Subscriptions);
        Assert.True(chunks.Count > 1, "the test bundle spans several chunks");

        foreach (var chunk in chunks)
            await _parts.Releases.OnChunkAsync(new FleetMessage(FleetTopics.Chunk(Kit.Fleet, DeviceTestKit.Model, "1.0.0", chunk.Index), chunk.Encode(), true), CancellationToken.None);

        Assert.Equal("1.0.0", _parts.Runtime.Learner?.Status.BaseVersion);
        Assert.Equal(new[] { "subscribe " + filter, "unsubscribe " + filter }, _parts.Connection.Subscriptions);
        Assert.Null(_parts.Releases.LastRejection);
        Assert.Empty(_rejections);

        // The same release again (a retained message after a reconnect) is not fetched twice.
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(release), CancellationToken.None);
        Assert.Equal(2, _parts.Connection.Subscriptions.Count);
    }

    [Fact]
    public async Task An_unsigned_release_is_refused_before_any_chunk_is_fetched()
    {
        var (unsigned, _) = Kit.Release("1.0.0", sign: false);
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(unsigned), CancellationToken.None);

        Assert.Empty(_parts.Connection.Subscriptions);
        Assert.Contains("unsigned", _parts.Releases.LastRejection, StringComparison.Ordinal);
        Assert.Equal(_parts.Releases.LastRejection, Assert.Single(_rejections));
        Assert.Equal(1, _parts.Runtime.Metrics.ReleasesRejected);
        Assert.False(_parts.Runtime.HasModel);
    }

    [Fact]
    public async Task A_chunk_altered_in_transit_is_refused()
    {
        var (release, chunks) = Kit.Release("1.0.0");
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(release), CancellationToken.None);
        var data = (byte[])chunks[0].Data.Clone();
        data[10] ^= 0xFF;
        await _parts.Releases.OnChunkAsync(new FleetMessage("chunk", (chunks[0] with { Data = data }).Encode(), true), CancellationToken.None);

        Assert.Contains("tampered", _parts.Releases.LastRejection, StringComparison.Ordinal);
        Assert.False(_parts.Runtime.HasModel);
    }

    [Fact]
    public async Task A_release_for_another_cohort_or_model_is_ignored_without_a_refusal()
    {
        var (canary, _) = Kit.Release("1.0.0", cohort: "canary");
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(canary), CancellationToken.None);
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(canary with { ModelName = "other" }), CancellationToken.None);
        await _parts.Releases.OnReleaseAsync(new FleetMessage("cleared", [], true), CancellationToken.None);

        Assert.Empty(_parts.Connection.Subscriptions);
        Assert.Empty(_rejections);
    }

    [Theory]
    [InlineData("all", "canary", true)]
    [InlineData("ALL", "canary", true)]
    [InlineData("canary", "canary", true)]
    [InlineData("canary", "all", false)]
    [InlineData("Canary", "canary", false)]
    public void Cohorts(string release, string device, bool installs) => Assert.Equal(installs, ReleaseInstaller.IsForCohort(release, device));

    [Fact]
    public async Task Attack_replayed_older_release_after_a_newer_one_is_refused()
    {
        var (old, _) = await InstallAsync("1.0.0", sequence: 1);
        await InstallAsync("1.1.0", sequence: 2);
        var subscriptions = _parts.Connection.Subscriptions.Count;

        // An attacker with broker access re-publishes the old, validly signed release as the retained one.
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(old), CancellationToken.None);

        Assert.Equal("1.1.0", _parts.Runtime.Learner!.Status.BaseVersion);
        Assert.Equal(subscriptions, _parts.Connection.Subscriptions.Count); // nothing fetched
        Assert.Contains("replayed older release", _parts.Releases.LastRejection, StringComparison.Ordinal);
        Assert.Equal(1, _parts.Runtime.Metrics.ReleasesRejected);

        // After a restart too: the accepted sequence is on disk.
        using var restarted = new ReleaseInstaller(_parts.Runtime, Kit.Key, _parts.Settings, _parts.Connection, NullLogger.Instance);
        Assert.Equal(2, restarted.AcceptedSequence);
        await restarted.OnReleaseAsync(ReleaseMessage(old), CancellationToken.None);
        Assert.Equal(2, _parts.Runtime.Metrics.ReleasesRejected);
        Assert.Equal(subscriptions, _parts.Connection.Subscriptions.Count);
    }

    [Fact]
    public async Task A_rollback_to_an_older_version_with_a_higher_sequence_is_installed()
    {
        await InstallAsync("1.1.0", sequence: 5);
        await InstallAsync("1.0.0", sequence: 6);

        Assert.Equal("1.0.0", _parts.Runtime.Learner!.Status.BaseVersion);
        Assert.Equal(6, _parts.Releases.AcceptedSequence);
        Assert.Empty(_rejections);
    }

    [Fact]
    public async Task The_version_already_running_is_accepted_without_a_download_and_its_redelivery_is_not_a_replay()
    {
        var (release, _) = await InstallAsync("1.0.0", sequence: 3);
        var subscriptions = _parts.Connection.Subscriptions.Count;
        var promoted = Kit.Release("1.0.0", sequence: 4).Release; // e.g. the canary's version promoted to all

        await _parts.Releases.OnReleaseAsync(ReleaseMessage(promoted), CancellationToken.None);
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(promoted), CancellationToken.None);

        Assert.Equal(4, _parts.Releases.AcceptedSequence);
        Assert.Equal(subscriptions, _parts.Connection.Subscriptions.Count);
        Assert.Empty(_rejections);
        Assert.Equal(3, release.Sequence);
    }

    [Fact]
    public async Task A_release_without_a_sequence_is_refused()
    {
        var unsequenced = ContinualLearning.Fleet.Signing.ReleaseSigner.Sign(Kit.Release("1.0.0", sign: false).Release with { Sequence = null }, Kit.Key);
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(unsequenced), CancellationToken.None);

        Assert.Contains("no release sequence", _parts.Releases.LastRejection, StringComparison.Ordinal);
        Assert.Empty(_parts.Connection.Subscriptions);
        Assert.False(_parts.Runtime.HasModel);
    }

    private async Task<(Release Release, IReadOnlyList<ContinualLearning.Fleet.Messages.BundleChunk> Chunks)> InstallAsync(string version, long sequence)
    {
        var (release, chunks) = Kit.Release(version, sequence: sequence);
        await _parts.Releases.OnReleaseAsync(ReleaseMessage(release), CancellationToken.None);
        foreach (var chunk in chunks)
            await _parts.Releases.OnChunkAsync(new FleetMessage(FleetTopics.Chunk(Kit.Fleet, DeviceTestKit.Model, version, chunk.Index), chunk.Encode(), true), CancellationToken.None);
        Assert.Equal(version, _parts.Runtime.Learner?.Status.BaseVersion);
        return (release, chunks);
    }

    private FleetMessage ReleaseMessage(Release release) => new(FleetTopics.Release(Kit.Fleet, DeviceTestKit.Model), FleetJson.Serialize(release), true);
}
