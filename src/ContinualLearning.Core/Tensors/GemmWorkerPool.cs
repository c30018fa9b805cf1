namespace ContinualLearning.Tensors;

/// <summary>
/// A few long-lived helper threads for large GEMMs. Parallel.For would do, but it allocates on
/// every call (≈9 KB here), and the training loop calls GEMM thousands of times a second: these
/// helpers wait on semaphores and take their work through a field, so a steady-state parallel
/// GEMM allocates nothing. The shared pool lives as long as the process; <see cref="Dispose"/>
/// stops the helpers of any other instance.
/// </summary>
internal sealed unsafe class GemmWorkerPool : IDisposable
{
    private static GemmWorkerPool? _shared;

    private readonly Lock _gate = new();
    private readonly SemaphoreSlim[] _go;
    private readonly Thread[] _threads;

    // Completion: the last helper to finish releases _finished. Not a CountdownEvent: its ManualResetEventSlim
    // allocates a lock object the first time a Wait has to block, which would make one steady-state GEMM allocate;
    // SemaphoreSlim creates its lock object up front.
    private readonly SemaphoreSlim _finished = new(0);
    private int _pending;
    private GemmKernel.Job _job;
    private delegate*<in GemmKernel.Job, int, void> _body;
    private volatile bool _disposed;

    /// <param name="helpers">Helper threads to start (at least one); the caller of <see cref="TryRun"/> is one more participant.</param>
    internal GemmWorkerPool(int helpers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(helpers, 1);
        _go = new SemaphoreSlim[helpers];
        _threads = new Thread[helpers];
        for (var i = 0; i < helpers; i++)
        {
            _go[i] = new SemaphoreSlim(0);
            _threads[i] = new Thread(Loop) { IsBackground = true, Name = $"cl-gemm-{i + 1}" };
            _threads[i].Start(i);
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
            var winner = Interlocked.CompareExchange(ref _shared, created, null);
            if (winner is null)
            {
                return created;
            }

            // Another thread created the shared pool first: stop this one's helpers instead of leaving them parked.
            created.Dispose();
            return winner;
        }
    }

    /// <summary>Number of helper threads (the caller is one more participant).</summary>
    internal int Helpers => _go.Length;

    /// <summary>
    /// Runs <paramref name="body"/>(job, part) for part 0 on the caller and 1..Parts−1 on helpers,
    /// returning when all are done; false (nothing run) when another caller is using the helpers
    /// or the pool is disposed.
    /// </summary>
    internal bool TryRun(in GemmKernel.Job job, delegate*<in GemmKernel.Job, int, void> body)
    {
        if (!_gate.TryEnter())
        {
            return false;
        }

        try
        {
            if (_disposed)
            {
                return false;
            }

            var helpers = job.Parts - 1;
            _job = job;
            _body = body;
            Volatile.Write(ref _pending, helpers);
            for (var i = 0; i < helpers; i++)
            {
                _go[i].Release();
            }

            body(in job, 0);
            if (helpers > 0)
            {
                _finished.Wait();
            }

            return true;
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Stops the helper threads (after a running <see cref="TryRun"/> finished) and releases their semaphores.</summary>
    public void Dispose()
    {
        // Holding the gate waits for a running TryRun; any later TryRun sees _disposed and returns false.
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        foreach (var go in _go)
        {
            go.Release();
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        foreach (var go in _go)
        {
            go.Dispose();
        }

        _finished.Dispose();
    }

    private void Loop(object? state)
    {
        var part = (int)state! + 1;
        var go = _go[part - 1];
        while (true)
        {
            go.Wait();
            if (_disposed)
            {
                return;
            }

            try
            {
                _body(in _job, part);
            }
            finally
            {
                if (Interlocked.Decrement(ref _pending) == 0)
                {
                    _finished.Release();
                }
            }
        }
    }
}
