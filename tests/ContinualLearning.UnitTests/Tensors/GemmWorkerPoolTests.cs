using ContinualLearning.Tensors;

namespace ContinualLearning.UnitTests.Tensors;

/// <summary>The GEMM helper pool runs every part of a job once, and a disposed pool stops its threads and runs nothing.</summary>
public sealed class GemmWorkerPoolTests
{
    // Function pointers need a static target, so the parts that ran are recorded in a static bit mask.
    private static int s_ranParts;

    [Fact]
    public async Task TryRun_runs_part_zero_on_the_caller_and_the_rest_on_helpers_then_dispose_stops_the_helpers()
    {
        var pool = new GemmWorkerPool(helpers: 2);
        try
        {
            Assert.True(Run(pool, parts: 3));
            Assert.Equal(0b111, Volatile.Read(ref s_ranParts));

            // A second job reuses the same helpers.
            Assert.True(Run(pool, parts: 2));
            Assert.Equal(0b011, Volatile.Read(ref s_ranParts));
        }
        finally
        {
            // Dispose joins the helper threads: if they did not wake and exit, this times out.
            await Task.Run(pool.Dispose).WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.False(Run(pool, parts: 3));
        Assert.Equal(0, s_ranParts);
        pool.Dispose(); // idempotent
    }

    private static unsafe bool Run(GemmWorkerPool pool, int parts)
    {
        s_ranParts = 0;
        var job = new GemmKernel.Job(default, p0: 0, kc: 0, jc: 0, nc: 0, packB: null, beta: 0f, tiles: parts, byRows: true, parts: parts);
        return pool.TryRun(job, &RecordPart);
    }

    private static void RecordPart(in GemmKernel.Job job, int part) => Interlocked.Or(ref s_ranParts, 1 << part);
}
