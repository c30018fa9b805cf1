using ContinualLearning.Device.Agent;
using ContinualLearning.IO;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContinualLearning.UnitTests.Device;

/// <summary>Attack 8 on the device: <c>releases/</c> only grew, one extracted directory per release ever installed.</summary>
public sealed class ReleaseRetentionTests : IAsyncDisposable
{
    private readonly AgentParts _parts = new();

    private DeviceTestKit Kit => _parts.Kit;

    private string Releases => Kit.Options.ReleasesDirectory;

    public ValueTask DisposeAsync() => _parts.DisposeAsync();

    [Fact]
    public async Task Attack_release_directories_only_grow_keeps_the_installed_the_rollback_target_and_the_download()
    {
        // A download abandoned long ago (its release was superseded before it completed).
        var stale = Directory.CreateDirectory(Path.Combine(Releases, "incoming", "0.9.0")).FullName;
        File.WriteAllBytes(Path.Combine(stale, "000000.chunk"), new byte[100]);
        Directory.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));

        foreach (var version in new[] { "1.0.0", "1.1.0", "1.2.0", "1.3.0" }) await InstallAsync(version);

        Assert.Equal("1.3.0", _parts.Runtime.Learner!.Status.BaseVersion);
        Assert.Equal("1.2.0", _parts.Runtime.ReplacedBaseVersion);
        Assert.Equal(["1.2.0", "1.3.0", "incoming"], Directory.GetDirectories(Releases).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetDirectories(Path.Combine(Releases, "incoming")));
    }

    [Fact]
    public void A_download_in_progress_or_just_started_is_kept()
    {
        var incoming = Path.Combine(Releases, "incoming");
        var fetching = Directory.CreateDirectory(Path.Combine(incoming, "2.0.0")).FullName;
        Directory.SetLastWriteTimeUtc(fetching, DateTime.UtcNow.AddHours(-1));
        var stale = Directory.CreateDirectory(Path.Combine(incoming, "1.5.0")).FullName;
        Directory.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));
        Directory.CreateDirectory(Path.Combine(incoming, "2.1.0")); // created "now": a download that began during the install
        Directory.CreateDirectory(Path.Combine(Releases, "1.0.0"));
        Directory.CreateDirectory(Path.Combine(Releases, "1.1.0"));

        var deleted = ReleaseDirectoryRetention.Prune(_parts.Runtime, "1.1.0", fetching: "2.0.0", NullLogger.Instance);

        Assert.Equal(2, deleted);
        Assert.Equal(["2.0.0", "2.1.0"], Directory.GetDirectories(incoming).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["1.1.0", "incoming"], Directory.GetDirectories(Releases).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Temp_files_left_by_interrupted_writes_are_swept_on_start()
    {
        var chunkDir = Directory.CreateDirectory(Path.Combine(Releases, "incoming", "1.0.0")).FullName;
        var keep = Path.Combine(chunkDir, "000000.chunk");
        File.WriteAllBytes(keep, [1]);
        File.WriteAllBytes(Path.Combine(chunkDir, "000001.chunk.tmp"), [1]);
        File.WriteAllBytes(Path.Combine(Releases, ".1.0.0.0123" + AtomicFile.TempSuffix), [1]);

        await _parts.Runtime.OpenAsync();

        Assert.Equal([keep], Directory.GetFiles(Releases, "*", SearchOption.AllDirectories));
    }

    private Task InstallAsync(string version) => _parts.InstallReleaseAsync(version);
}
