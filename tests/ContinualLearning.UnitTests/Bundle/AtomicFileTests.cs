using ContinualLearning.IO;

namespace ContinualLearning.UnitTests.Bundle;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Write_creates_then_replaces_and_leaves_no_temp_files()
    {
        var path = _tmp.Sub("checkpoint.bin");

        AtomicFile.Write(path, [1, 2, 3]);
        AtomicFile.Write(path, [4, 5]);

        Assert.Equal([4, 5], File.ReadAllBytes(path));
        Assert.Equal(["checkpoint.bin"], Directory.EnumerateFileSystemEntries(_tmp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Failed_write_keeps_the_old_content_and_removes_the_temp_file()
    {
        var path = _tmp.Sub("checkpoint.bin");
        AtomicFile.Write(path, [1, 2, 3]);

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write([9, 9, 9, 9]);
            throw new InvalidOperationException("simulated crash mid-write");
        }));

        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal(["checkpoint.bin"], Directory.EnumerateFileSystemEntries(_tmp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Streaming_overload_writes_the_stream_content()
    {
        var path = _tmp.Sub("big.bin");
        var data = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray();

        AtomicFile.Write(path, s => s.Write(data));

        Assert.Equal(data, File.ReadAllBytes(path));
        Assert.DoesNotContain(Directory.EnumerateFiles(_tmp.Path), f => f.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_directory_gives_an_actionable_error()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.Write(_tmp.Sub("no/such/dir/x.bin"), [1]));

        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Fsync_directory_is_harmless_on_any_directory() =>
        AtomicFile.FsyncDirectory(_tmp.Path); // must not throw; durability itself cannot be observed in a unit test
}
