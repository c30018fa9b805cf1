using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Tensors;

/// <summary>The GEMM helper pool runs every part of a job once, and a disposed pool stops its threads and runs nothing.</summary>
public sealed unsafe class GemmWorkerPoolTests
{
    // Function pointers need a static target, so the parts that ran are recorded in a static bit mask.
    private static int s_ranParts;

    private static void RecordPart(in GemmKernel.Job job, int part) => Interlocked.Or(ref s_ranParts, 1 << part);

    private static GemmKernel.Job JobWithParts(int parts) =>
        new(default, p0: 0, kc: 0, jc: 0, nc: 0, packB: null, beta: 0f, tiles: parts, byRows: true, parts: parts);

    [Fact]
    public void TryRun_RunsPartZeroOnTheCallerAndTheRestOnHelpers_ThenDisposeStopsTheHelpers()
    {
        var pool = new GemmWorkerPool(helpers: 2);
        try
        {
            s_ranParts = 0;
            Assert.True(pool.TryRun(JobWithParts(3), &RecordPart));
            Assert.Equal(0b111, Volatile.Read(ref s_ranParts));

            // A second job reuses the same helpers.
            s_ranParts = 0;
            Assert.True(pool.TryRun(JobWithParts(2), &RecordPart));
            Assert.Equal(0b011, Volatile.Read(ref s_ranParts));
        }
        finally
        {
            // Dispose joins the helper threads: if they did not wake and exit, this would not return.
            Assert.True(Task.Run(pool.Dispose).Wait(TimeSpan.FromSeconds(30)), "GemmWorkerPool.Dispose did not stop its helper threads.");
        }

        s_ranParts = 0;
        Assert.False(pool.TryRun(JobWithParts(3), &RecordPart));
        Assert.Equal(0, s_ranParts);
        pool.Dispose(); // idempotent
    }
}
