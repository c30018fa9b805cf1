using System.Text;
using System.Text.Json.Nodes;
using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.Tests.Registry;

/// <summary>
/// The registry contract: what every backend of <see cref="ModelRegistry"/> promises, tested through its public and
/// internal API only, so the same tests run on SQLite (<see cref="SqliteRegistryContractTests"/>) and PostgreSQL
/// (<c>PostgresRegistryContractTests</c>). A derived class supplies a fresh empty registry per test
/// (<see cref="NewDatabaseAsync"/>) and a second location on the same database, as a second aggregator host would
/// open it (<see cref="SameDatabase"/>).
/// </summary>
/// <remarks>
/// Times: every timestamp the registry stores comes back as the same instant, in UTC, to the microsecond (PostgreSQL's
/// <c>timestamptz</c> resolution; SQLite keeps 100 ns ticks, which the contract does not promise). The tests therefore
/// use times with a microsecond fraction and never finer.
/// Concurrency: the multi-instance tests start their two sides on threads of their own without the caller's execution
/// context, as two hosts would run them.
/// </remarks>
public abstract partial class RegistryContractTests : IAsyncDisposable
{
    /// <summary>A time with a microsecond fraction (.123456 s): a backend that keeps only milliseconds fails.</summary>
    protected static readonly DateTimeOffset T0 = new DateTimeOffset(2026, 3, 1, 12, 34, 56, TimeSpan.Zero).AddTicks(1_234_560);

    /// <summary>Bounds that never refuse anything in these tests.</summary>
    protected static readonly PendingLimits NoLimits = new(100_000, 100_000);

    private readonly List<ModelRegistry> _opened = [];

    /// <summary>The clock every registry of the test is opened with.</summary>
    protected ManualClock Clock { get; } = new(T0);

    /// <summary>What <see cref="ModelRegistry.Backend"/> must say: a suite that silently ran on the other engine would prove nothing.</summary>
    protected abstract string ExpectedBackend { get; }

    /// <summary>A new, empty database (made at most once per test) and the location of the first registry on it.</summary>
    protected abstract Task<RegistryLocation> NewDatabaseAsync();

    /// <summary>Another location on the database <see cref="NewDatabaseAsync"/> made, with a working directory of its own (a second host).</summary>
    protected abstract RegistryLocation SameDatabase();

    /// <summary>Replaces the stored bytes of an artifact behind the registry's back (a corrupted file or row).</summary>
    protected abstract Task CorruptArtifactAsync(ModelRegistry registry, string sha256, byte[] bytes);

    /// <summary>A fresh empty registry for this test.</summary>
    protected async Task<ModelRegistry> OpenAsync() => Opened(ModelRegistry.Open(await NewDatabaseAsync(), Clock));

    /// <summary>A second registry object on the same database as <see cref="OpenAsync"/>'s, as a second aggregator host opens it.</summary>
    protected Task<ModelRegistry> OpenSecondAsync() => Task.FromResult(Opened(ModelRegistry.Open(SameDatabase(), Clock)));

    /// <summary>Closes <paramref name="registry"/> with the others when the test ends; checks it is on the expected engine.</summary>
    protected ModelRegistry Opened(ModelRegistry registry)
    {
        lock (_opened) _opened.Add(registry);
        Assert.Equal(ExpectedBackend, registry.Backend);
        return registry;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var registry in _opened) registry.Dispose();
        await CleanUpAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Removes what the derived class made for the test (after every registry is closed).</summary>
    protected virtual ValueTask CleanUpAsync() => ValueTask.CompletedTask;

    // ---------------------------------------------------------------- helpers

    /// <summary>A delta id as the system makes them (a GUID in "D" form), numbered so its sort position is known.</summary>
    protected static string Id(int n) => $"00000000-0000-4000-8000-{n:x12}";

    protected static PendingDelta Delta(string id, string device, DateTimeOffset? received = null, string baseVersion = "1.0.0", long samples = 32) =>
        new(id, device, baseVersion, samples, received ?? T0, Encoding.UTF8.GetBytes("payload of " + id));

    protected static ModelVersionRecord Version(string name, string version, string status = VersionStatus.Released, string? parent = null) => new()
    {
        Name = name,
        Version = version,
        Parent = parent,
        Created = T0,
        Status = status,
        ArtifactSha256 = new string('a', 64),
    };

    /// <summary>Equal JSON values (a backend may store JSON as <c>jsonb</c>, which keeps the value, not the spelling).</summary>
    protected static void AssertSameJson(string expected, string actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)), $"Expected JSON {expected}, got {actual}.");

    /// <summary>The same instant, returned in UTC.</summary>
    protected static void AssertSameTime(DateTimeOffset expected, DateTimeOffset? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.UtcDateTime, actual.Value.UtcDateTime);
        Assert.Equal(TimeSpan.Zero, actual.Value.Offset);
    }

    /// <summary>
    /// Runs the bodies at once, each on a thread of its own started without the caller's execution context (as separate
    /// hosts would), released together by a barrier; rethrows the first failure.
    /// </summary>
    protected static async Task<T[]> RunTogether<T>(params Func<T>[] bodies)
    {
        using var barrier = new Barrier(bodies.Length);
        Task<T>[] tasks;
        using (ExecutionContext.SuppressFlow())
        {
            tasks = bodies.Select(body => Task.Factory.StartNew(
                () =>
                {
                    barrier.SignalAndWait(TimeSpan.FromSeconds(30));
                    return body();
                },
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        }
        return await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));
    }

    /// <summary>A clock the test sets; shared by every registry of the test.</summary>
    protected sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private long _ticks = start.UtcTicks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Set(DateTimeOffset now) => Interlocked.Exchange(ref _ticks, now.UtcTicks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
