namespace ContinualLearning.Tensors;

/// <summary>
/// A few long-lived helper threads for large GEMMs. Parallel.For would do, but it allocates on
/// every call (≈9 KB here), and the training loop calls GEMM thousands of times a second: these
/// helpers wait on semaphores and take their work through a field, so a steady-state parallel
/// GEMM allocates nothing.
/// </summary>
internal sealed unsafe class GemmWorkerPool
{
    private static GemmWorkerPool? _shared;

    private readonly Lock _gate = new();
    private readonly SemaphoreSlim[] _go;
    private readonly CountdownEvent _done = new(1);
    private GemmKernel.Job _job;
    private delegate*<in GemmKernel.Job, int, void> _body;

    private GemmWorkerPool(int helpers)
    {
        _go = new SemaphoreSlim[helpers];
        for (var i = 0; i < helpers; i++)
        {
            _go[i] = new SemaphoreSlim(0);
            var thread = new Thread(Loop) { IsBackground = true, Name = $"cl-gemm-{i + 1}" };
            thread.Start(i);
        }
    }

    /// <summary>The process-wide pool, sized to <see cref="GemmKernel.MaxThreads"/> − 1 helpers (at least one).</summary>
    internal static GemmWorkerPool Shared
    {
        get
        {
            if (_shared is { } pool)
            {
                return pool;
            }

            var created = new GemmWorkerPool(Math.Max(1, GemmKernel.MaxThreads - 1));
            return Interlocked.CompareExchange(ref _shared, created, null) ?? created;
        }
    }

    /// <summary>Number of helper threads (the caller is one more participant).</summary>
    internal int Helpers => _go.Length;

    /// <summary>
    /// Runs <paramref name="body"/>(job, part) for part 0 on the caller and 1..Parts−1 on helpers,
    /// returning when all are done; false (nothing run) when another caller is using the helpers.
    /// </summary>
    internal bool TryRun(in GemmKernel.Job job, delegate*<in GemmKernel.Job, int, void> body)
    {
        if (!_gate.TryEnter())
        {
            return false;
        }

        try
        {
            var helpers = job.Parts - 1;
            _job = job;
            _body = body;
            _done.Reset(helpers);
            for (var i = 0; i < helpers; i++)
            {
                _go[i].Release();
            }

            body(in job, 0);
            _done.Wait();
            return true;
        }
        finally
        {
            _gate.Exit();
        }
    }

    private void Loop(object? state)
    {
        var part = (int)state! + 1;
        var go = _go[part - 1];
        while (true)
        {
            go.Wait();
            try
            {
                _body(in _job, part);
            }
            finally
            {
                _done.Signal();
            }
        }
    }
}
