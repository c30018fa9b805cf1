using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.UnitTests.Storage;

public sealed class TransientPathTests : IDisposable
{
    private readonly ShmDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string MountInfo = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        25 24 0:23 / /dev/shm rw,relatime - ext4 old rw
        30 25 0:27 / /dev/shm rw,relatime shared:5 - tmpfs tmpfs rw,size=100k
        31 27 0:30 / /run/user/1000 rw,nosuid - tmpfs tmpfs rw
        32 27 0:31 / /mnt/my\040disk rw - vfat /dev/sda1 rw
        33 27 0:32 / /mnt/ram rw - ramfs ramfs rw
        """;

    [Theory]
    [InlineData("/dev/shm/cl/samples.db", "tmpfs", "/dev/shm")]
    [InlineData("/dev/shmx/samples.db", "ext4", "/")]
    [InlineData("/run/user/1000/continual-learning/samples.db", "tmpfs", "/run/user/1000")]
    [InlineData("/run/user/10000/samples.db", "ext4", "/")]
    [InlineData("/mnt/my disk/samples.db", "vfat", "/mnt/my disk")]
    [InlineData("/mnt/ram/a.db", "ramfs", "/mnt/ram")]
    [InlineData("/work/samples.db", "ext4", "/")]
    public void Mount_of_a_path_is_the_longest_component_prefix_and_the_last_mount_wins(string path, string fsType, string mountPoint)
    {
        var found = TransientPathGuard.FindFileSystem(path, MountInfo);
        Assert.Equal((fsType, mountPoint), found);
    }

    [Fact]
    public void This_machine_reports_dev_shm_as_tmpfs()
    {
        Assert.Equal("tmpfs", TransientPathGuard.FindFileSystem(_dir.Db)?.FsType);
    }

    [Fact]
    public void A_persistent_path_is_refused_naming_path_filesystem_and_option_and_nothing_is_created()
    {
        // The build output lives on the repository's disk; /tmp is checked too when it is persistent here.
        foreach (var root in new[] { AppContext.BaseDirectory, "/tmp" })
        {
            var fs = TransientPathGuard.FindFileSystem(root);
            Assert.NotNull(fs);
            if (TransientPathGuard.RamFileSystems.Contains(fs.Value.FsType)) continue;
            var dir = Path.Combine(root, $"cl-refused-{Guid.NewGuid():N}");
            var path = Path.Combine(dir, "samples.db");

            var e = Assert.Throws<InvalidOperationException>(() => new SampleStore(_dir.Options() with { DatabasePath = path }));
            Assert.Contains(path, e.Message);
            Assert.Contains($"type '{fs.Value.FsType}'", e.Message);
            Assert.Contains("AllowPersistent = true", e.Message);
            Assert.False(Directory.Exists(dir));
        }
    }

    [Fact]
    public void A_persistent_path_is_allowed_with_the_flag()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, $"cl-allowed-{Guid.NewGuid():N}");
        try
        {
            var options = _dir.Options() with { DatabasePath = Path.Combine(dir, "samples.db"), AllowPersistent = true, DeleteOnDispose = true };
            using (var store = new SampleStore(options))
            {
                var id = store.LogPrediction(Samples.Features(1), [], "v1");
                store.AddLabel(id, SampleLabel.Class(1));
                Assert.Single(store.TakeFreshBatch(4));
                Assert.True(File.Exists(options.DatabasePath));
            }
            Assert.False(Directory.Exists(dir));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_symlink_on_tmpfs_pointing_to_disk_is_refused()
    {
        var target = Path.Combine(AppContext.BaseDirectory, $"cl-target-{Guid.NewGuid():N}");
        Directory.CreateDirectory(target);
        try
        {
            var link = Path.Combine(_dir.Path, "link");
            Directory.CreateSymbolicLink(link, target);
            var e = Assert.Throws<InvalidOperationException>(() => new SampleStore(_dir.Options() with { DatabasePath = Path.Combine(link, "samples.db") }));
            Assert.Contains("persistent filesystem", e.Message);
            Assert.Empty(Directory.EnumerateFileSystemEntries(target));
        }
        finally
        {
            Directory.Delete(target, recursive: true);
        }
    }

    [Fact]
    public void Default_path_is_on_tmpfs_in_a_per_user_directory()
    {
        var path = SampleStoreOptions.DefaultDatabasePath;
        Assert.EndsWith("samples.db", path);
        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (string.IsNullOrEmpty(runtime)) Assert.StartsWith("/dev/shm/continual-learning-", path);
        else Assert.StartsWith(Path.Combine(runtime, "continual-learning"), path);
        var fsType = TransientPathGuard.FindFileSystem(path)?.FsType;
        Assert.True(fsType is "tmpfs" or "ramfs", $"Default path {path} is on '{fsType}'.");
    }

    [Fact]
    public void The_store_writes_no_file_outside_its_tmpfs_directory()
    {
        // A name no other test uses: tests running in parallel keep their own samples.db files open elsewhere.
        var name = $"transient-{Guid.NewGuid():N}.db";
        var tmpBefore = SqliteLookingEntries("/tmp", name);
        var options = _dir.Options(featureCount: 16) with { DatabasePath = Path.Combine(_dir.Path, name), MaxRows = 3000, ReplayCapacity = 200 };
        using (var store = new SampleStore(options))
        {
            // Enough work for sorts, a WAL checkpoint and replay writes.
            for (var round = 0; round < 3; round++)
            {
                store.AddLabelledBatch(Samples.Batch(2000, featureCount: 16, offset: round * 2000));
                for (var i = 0; i < 200; i++) store.LogPrediction(Samples.Features(i, 16), [0.5f], "v1");
                var batch = store.TakeFreshBatch(1500);
                store.Replay.Offer(batch);
                store.MarkUsed(batch.Select(s => s.Id));
                store.Replay.SampleReplay(64, new Random(round));
            }
            _ = store.GetStats();
            Assert.Empty(OpenFilesOutside(_dir.Path, name));
            // The settings that keep every file SQLite writes next to the database: temp_store=MEMORY (2) and WAL.
            Assert.Equal(2L, Pragma(store, "temp_store"));
            Assert.Equal("wal", Pragma(store, "journal_mode"));
            var names = Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order().ToArray();
            Assert.Subset(new HashSet<string?> { name, name + "-wal", name + "-shm" }, names.ToHashSet());
        }
        Assert.Equal([name], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName));
        Assert.Equal(tmpBefore, SqliteLookingEntries("/tmp", name));
    }

    private static object? Pragma(SampleStore store, string name)
    {
        using var cmd = store.Connection.CreateCommand();
        cmd.CommandText = $"PRAGMA {name}";
        return cmd.ExecuteScalar();
    }

    /// <summary>Entries in <paramref name="dir"/> that SQLite could have made for this store (its temp-file prefix "etilqs_", or the database <paramref name="db"/> and its journals).</summary>
    private static string[] SqliteLookingEntries(string dir, string db) =>
        Directory.EnumerateFileSystemEntries(dir)
            .Select(Path.GetFileName)
            .Where(n => n!.StartsWith("etilqs_", StringComparison.Ordinal) || n.Contains(db, StringComparison.Ordinal))
            .Order()
            .ToArray()!;

    /// <summary>This process's open files that look like this store's (or SQLite temp files) and lie outside <paramref name="dir"/> (including unlinked temp files).</summary>
    private static List<string> OpenFilesOutside(string dir, string db)
    {
        var outside = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }
            if (target is null || target.StartsWith(dir + "/", StringComparison.Ordinal)) continue;
            if (target.Contains("etilqs_", StringComparison.Ordinal) || target.Contains(db, StringComparison.Ordinal)) outside.Add(target);
        }
        return outside;
    }
}
