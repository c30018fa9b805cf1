using ContinualLearning.Aggregator.Registry;

namespace ContinualLearning.UnitTests.Aggregator;

public sealed class RegistryDatabaseTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cl-registry-db-tests", Guid.NewGuid().ToString("N"));

    public RegistryDatabaseTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Many_threads_share_the_one_connection_and_closing_it_afterwards_is_clean()
    {
        const int workers = 8, rounds = 100;
        var db = RegistryDatabase.Open(Path.Combine(_dir, "registry.db"));
        db.Execute("CREATE TABLE t(k INTEGER NOT NULL)");
        // The MQTT handler, the aggregation loop and callers all use the connection at once; its command list is not thread-safe.
        await Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < rounds; i++)
            {
                db.Execute("INSERT INTO t(k) VALUES($k)", ("$k", w));
                Assert.Equal(i + 1, db.Count("SELECT COUNT(*) FROM t WHERE k=$k", ("$k", w)));
                Assert.NotEmpty(db.Query("SELECT k FROM t LIMIT 3", r => r.GetInt32(0)));
            }
        })));
        Assert.Equal(workers * rounds, db.Count("SELECT COUNT(*) FROM t"));
        db.Dispose();
    }
}
