using ContinualLearning.Device.Outbox;

namespace ContinualLearning.UnitTests.Device;

public sealed class DeltaOutboxTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cl-outbox-").FullName;

    [Fact]
    public void Items_survive_a_restart_in_order_with_identical_bytes()
    {
        var dir = Path.Combine(_root, "outbox");
        var a = new byte[] { 1, 2, 3 };
        var b = new byte[] { 4, 5 };
        var first = new DeltaOutbox(dir);
        first.Enqueue(a);
        first.Enqueue(b);
        // An interrupted write leaves a temp file behind: it must not become an item.
        File.WriteAllBytes(Path.Combine(dir, ".0000000000000002.delta.x.cltmp"), [9]);

        var reopened = new DeltaOutbox(dir);
        Assert.Equal(2, reopened.Count);
        Assert.Equal(5, reopened.Bytes);
        var head = reopened.Peek()!;
        Assert.Equal(a, head.Payload);
        reopened.Remove(head.Sequence);
        Assert.Equal(b, reopened.Peek()!.Payload);
        // New items continue after the highest sequence on disk.
        var c = reopened.Enqueue([7]);
        Assert.True(c > reopened.Peek()!.Sequence);
        Assert.Equal(2, Directory.GetFiles(dir).Length);
    }

    [Fact]
    public void Drops_the_oldest_beyond_the_bounds()
    {
        var outbox = new DeltaOutbox(Path.Combine(_root, "a"), maxItems: 2, maxBytes: 10_000);
        outbox.Enqueue([1]);
        outbox.Enqueue([2]);
        outbox.Enqueue([3]);
        Assert.Equal(2, outbox.Count);
        Assert.Equal(1, outbox.DroppedCount);
        Assert.Equal(new byte[] { 2 }, outbox.Peek()!.Payload);

        var byBytes = new DeltaOutbox(Path.Combine(_root, "b"), maxItems: 100, maxBytes: 2048);
        byBytes.Enqueue(new byte[1500]);
        byBytes.Enqueue(new byte[1000]);
        Assert.Equal(1, byBytes.Count);
        Assert.Equal(1000, byBytes.Bytes);
        Assert.Throws<ArgumentException>(() => byBytes.Enqueue(new byte[4096]));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
