using ContinualLearning.Aggregator.Rollout;
using ContinualLearning.Fleet.Messages;

namespace ContinualLearning.TestKit;

/// <summary>
/// A release channel that records what would go on the wire instead of publishing it, for the rollout tests of both
/// test projects. <see cref="FailPublishes"/> makes the next publishes throw, as a crash or a broker outage between the
/// registry's decision and the wire would.
/// </summary>
internal sealed class RecordingReleaseChannel : IReleaseChannel
{
    private readonly Lock _lock = new();
    private readonly List<string> _published = [];
    private readonly List<string> _cohorts = [];
    private readonly List<long> _sequences = [];
    private int _failPublishes;

    /// <summary>"{version} {cohort}" of every release published, in order.</summary>
    public IReadOnlyList<string> Published
    {
        get { lock (_lock) return [.. _published]; }
    }

    /// <summary>"{device} {cohort}" of every cohort command sent, in order.</summary>
    public IReadOnlyList<string> Cohorts
    {
        get { lock (_lock) return [.. _cohorts]; }
    }

    /// <summary>The release sequence of every release published, in order.</summary>
    public IReadOnlyList<long> Sequences
    {
        get { lock (_lock) return [.. _sequences]; }
    }

    /// <summary>How many of the next publishes throw instead of publishing.</summary>
    public int FailPublishes
    {
        get => Volatile.Read(ref _failPublishes);
        set => Volatile.Write(ref _failPublishes, value);
    }

    public Task<Release> PublishAsync(byte[] container, string modelName, string version, string? parentVersion, string cohort, long sequence, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Decrement(ref _failPublishes) >= 0) throw new IOException($"the broker went away while {version} was published to {cohort}");
        Interlocked.Exchange(ref _failPublishes, 0);
        lock (_lock)
        {
            _published.Add($"{version} {cohort}");
            _sequences.Add(sequence);
        }
        return Task.FromResult(new Release
        {
            ModelName = modelName, Version = version, Cohort = cohort, BundleSha256 = "", BundleSize = container.Length, ChunkSize = container.Length, ChunkCount = 1, ChunkSha256 = [],
        });
    }

    public Task SetCohortAsync(string deviceId, string cohort, CancellationToken cancellationToken = default)
    {
        lock (_lock) _cohorts.Add($"{deviceId} {cohort}");
        return Task.CompletedTask;
    }
}
