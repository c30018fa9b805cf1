using ContinualLearning.Replay;
using ContinualLearning.Storage;

namespace ContinualLearning.UnitTests.Storage;

/// <summary>A clock the test moves by hand, so TTL tests need no sleeps.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public ManualTimeProvider()
        : this(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>A fresh directory on /dev/shm (tmpfs), removed with everything in it on dispose.</summary>
internal sealed class ShmDirectory : IDisposable
{
    public ShmDirectory()
    {
        Path = System.IO.Path.Combine("/dev/shm", $"cl-unittests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Db => System.IO.Path.Combine(Path, "samples.db");

    public SampleStoreOptions Options(int featureCount = 4, int labelCount = 3) => new()
    {
        DatabasePath = Db,
        FeatureCount = featureCount,
        LabelCount = labelCount,
        ReplayCapacity = 16,
    };

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}

internal static class Samples
{
    public static float[] Features(int seed, int count = 4)
    {
        var f = new float[count];
        for (var i = 0; i < count; i++) f[i] = seed + i / 10f;
        return f;
    }

    public static (float[] Features, SampleLabel Label)[] Batch(int n, int featureCount = 4, int classes = 3, int offset = 0) =>
        Enumerable.Range(offset, n).Select(i => (Features(i, featureCount), SampleLabel.Class(i % classes))).ToArray();
}
